"""Measurements (not assertions) against a live target."""
