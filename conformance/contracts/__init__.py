"""The contract tests. They ship inside the package so vendoring teams get them:
`pytest --pyargs conformance --target=...` runs them from any directory."""
