"""Repo-root conftest: lets `pytest` in a checkout find the plugin without installing it
(an installed suite loads it through the pytest11 entry point instead)."""

import importlib.util

if importlib.util.find_spec("conformance.plugin") is not None:
    import sys

    _installed = any(getattr(m, "__name__", "") == "conformance.plugin" for m in sys.modules.values())
    if not _installed:
        pytest_plugins = ["conformance.plugin"]
