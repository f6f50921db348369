"""Soma shared-infra contract conformance suite (a pytest plugin).

`pytest --target=compose` (or testcontainers, kind, external) asserts every contract in
infra/contracts/catalog.yaml against a real running stack.
"""

__version__ = "0.1.0"
