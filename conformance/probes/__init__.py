"""Protocol probes: client-side (from the test process) and inside (stdlib-only script)."""
