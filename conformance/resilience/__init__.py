"""Resilience: a replicated service keeps serving, and loses nothing it acknowledged, while
one of its members is removed (load runs through the disruption; timeline judges it)."""
