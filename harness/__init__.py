"""This repo's own lab: seeded faults, benchmarks and the stability runner. It proves the
suite and measures the stack; consumers never run it, so the wheel does not ship it."""
