"""Re-export: the subprocess suite runner lives with the fault harness that uses it."""

from harness.faults.runner import SuiteRun, run_suite

__all__ = ["SuiteRun", "run_suite"]
