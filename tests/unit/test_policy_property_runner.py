"""The policy properties' runner (_run): every drawn input is asked, and the first failed
decision is raised and stops the drawing (a seeded policy fault fails fast)."""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import strategies as st

from conformance.contracts import test_policy
from conformance.probes.clients import ContractFailure

EXAMPLES = test_policy.FULL_EXAMPLES  # what a full run asks of each property


def counting(drawn: list[int]) -> st.SearchStrategy[int]:
    """0, 1, 2, ... in drawing order, each recorded in drawn."""
    numbers = itertools.count()

    def record(_: int) -> int:
        drawn.append(next(numbers))
        return drawn[-1]

    return st.integers().map(record)


def test_every_drawn_input_is_asked() -> None:
    drawn: list[int] = []
    asked: list[int] = []
    lock = threading.Lock()

    def check(example: Any) -> None:
        with lock:
            asked.append(example)

    out = test_policy._run(SimpleNamespace(asked_again=0), check, counting(drawn), EXAMPLES)  # type: ignore[arg-type]
    assert out == f"{EXAMPLES} examples"
    assert sorted(asked) == drawn and len(drawn) == EXAMPLES


def test_first_failed_decision_is_raised_and_stops_the_drawing() -> None:
    drawn: list[int] = []

    def check(example: Any) -> None:
        if example >= 50:
            raise ContractFailure(f"decision {example} was wrong")

    with pytest.raises(ContractFailure, match=r"decision \d+ was wrong"):
        test_policy._run(SimpleNamespace(asked_again=0), check, counting(drawn), EXAMPLES)  # type: ignore[arg-type]
    assert len(drawn) < EXAMPLES / 2
