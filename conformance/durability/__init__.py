"""Durability: what a service acknowledged survives a restart of that service (markers
written before, checked after; the restart and the wait for readiness in recovery)."""
