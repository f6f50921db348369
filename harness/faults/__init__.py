"""Seeded faults: each breaks exactly one promise of the stack, so the suite can prove
that the contract guarding that promise fails (the kill rate)."""
