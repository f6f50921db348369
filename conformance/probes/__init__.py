"""Protocol probes from the test process (the in-network script is conformance/inside)."""
