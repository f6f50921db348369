"""Observability checks: the Prometheus HTTP API, dashboard PromQL, Grafana.

Kept apart from the contract tests so that the pure parts (dashboard parsing, variable
expansion, rule selectors) are unit-tested without a stack.
"""
