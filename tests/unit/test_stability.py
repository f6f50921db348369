"""The flaky detector: any test whose outcome changes across runs is reported."""

from harness.faults.runner import SuiteRun
from harness.stability import flaky


def run(**outcomes: str) -> SuiteRun:
    return SuiteRun(0, 1.0, "", "", outcomes=dict(outcomes))


def test_flaky_detection() -> None:
    runs = [run(a="passed", b="passed", c="failed"), run(a="passed", b="failed", c="failed"),
            run(a="passed", c="failed")]
    assert flaky(runs) == {"b": ["passed", "failed", "missing"]}
    assert flaky([run(a="passed")] * 3) == {}
