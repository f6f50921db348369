"""The last phase (durability, resilience) runs after every other contract: serially by
order, under xdist by a scheduler that holds it back, hands it to one worker and opens a
barrier once every other item has finished. Driven here with fake workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.plugin import phases


class FakeGateway:
    def __init__(self, name: str) -> None:
        self.id = name


class FakeNode:
    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = FakeGateway(name)
        self.got: list[int] = []
        self.shutting_down = False
        self.steals: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.got.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True

    def send_steal(self, indices: list[int]) -> None:
        self.steals.append(list(indices))


class FakeConfig:
    """What the scheduler reads of the config: two local workers (`-n 2`)."""

    def getvalue(self, name: str) -> Any:
        return {"tx": ["2*popen"], "numprocesses": 2}.get(name)


COLLECTION = [f"test_{i}" for i in range(8)] + ["test_durability_a", "test_durability_b"]


def scheduler(tmp_path: Path, collection: list[str] = COLLECTION) -> tuple[Any, FakeNode, FakeNode, Path]:
    barrier = tmp_path / phases.BARRIER_NAME
    sched = phases.LastPhaseScheduling(FakeConfig(), None, lambda nodeid: "durability" in nodeid, barrier)
    a, b = FakeNode("a"), FakeNode("b")
    for node in (a, b):
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    return sched, a, b, barrier


def held_indices(collection: list[str] = COLLECTION) -> set[int]:
    return {i for i, n in enumerate(collection) if "durability" in n}


def run_all(sched: Any, nodes: list[FakeNode], barrier: Path) -> list[tuple[str, int, bool]]:
    """Complete items the way workers do (each runs an item once it knows the next, or
    once shut down; a last-phase item waits for the barrier), answering steals; returns
    (node, item, barrier open) in run order. A deadlock ends the loop early."""
    done: list[tuple[str, int, bool]] = []
    for _ in range(200):
        progressed = False
        for node in nodes:
            for steal in node.steals:  # a worker gives back what it has not started
                sched.remove_pending_tests_from_node(node, steal)
            node.steals.clear()
            pending = sched.node2pending.get(node, [])
            if len(pending) >= 2 or (pending and node.shutting_down):
                item = pending[0]
                if "durability" in sched.collection[item] and not barrier.exists():
                    continue  # blocked in wait_for_barrier
                done.append((node.name, item, barrier.exists()))
                sched.mark_test_complete(node, item)
                progressed = True
        if not progressed:
            break
    return done


def test_held_items_go_to_one_worker_after_every_other_item_finished(tmp_path: Path) -> None:
    sched, a, b, barrier = scheduler(tmp_path)
    held = held_indices()
    # the initial hand-out holds the last phase back
    assert not (set(a.got) | set(b.got)) & held
    done = run_all(sched, [a, b], barrier)
    assert sorted(i for _, i, _ in done) == list(range(len(COLLECTION))), "every item ran once"
    ran_held = [(n, i, open_) for n, i, open_ in done if i in held]
    assert len({n for n, _, _ in ran_held}) == 1, "the whole phase on one worker"
    assert [i for _, i, _ in ran_held] == sorted(held), "in collection order"
    assert all(open_ for _, _, open_ in ran_held), "each ran with the barrier open"
    first_positions = [pos for pos, (_, i, _) in enumerate(done) if i not in held]
    assert max(first_positions) < min(pos for pos, (_, i, _) in enumerate(done) if i in held)


def test_barrier_opens_only_when_the_last_other_item_completes(tmp_path: Path) -> None:
    sched, a, b, barrier = scheduler(tmp_path)
    first = [i for i in range(len(COLLECTION)) if i not in held_indices()]
    for node in (a, b):
        for item in list(sched.node2pending[node]):
            if item == first[-1]:
                continue
            if item in first:
                sched.mark_test_complete(node, item)
    assert not barrier.exists()
    owner = next(n for n in (a, b) if first[-1] in sched.node2pending[n])
    sched.mark_test_complete(owner, first[-1])
    assert barrier.exists()


def test_only_the_last_phase_selected_opens_the_barrier_at_once(tmp_path: Path) -> None:
    only = ["test_durability_a", "test_durability_b", "test_durability_c"]
    sched, a, b, barrier = scheduler(tmp_path, only)
    assert barrier.exists()
    done = run_all(sched, [a, b], barrier)
    assert sorted(i for _, i, _ in done) == [0, 1, 2]


def test_a_crashed_worker_does_not_keep_the_barrier_shut(tmp_path: Path) -> None:
    sched, a, b, barrier = scheduler(tmp_path, ["test_0", "test_1", "test_durability_a"])
    for node in (a, b):
        for item in list(sched.node2pending[node]):
            if item == 1:
                continue
            sched.mark_test_complete(node, item)
    crashed = next(n for n in (a, b) if 1 in sched.node2pending[n])
    sched.remove_node(crashed)
    assert barrier.exists()


def test_order_serially() -> None:
    items = ["a", "dur1", "b", "dur2", "c"]
    assert phases.last_phase_last(items, lambda i: i.startswith("dur")) == ["a", "b", "c", "dur1", "dur2"]


def test_wait_for_barrier(tmp_path: Path) -> None:
    assert phases.wait_for_barrier(None) == 0.0
    barrier = tmp_path / "b"
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s
        if now[0] >= 1.0:
            barrier.touch()

    assert phases.wait_for_barrier(barrier, timeout=5, sleep=sleep, clock=lambda: now[0]) == pytest.approx(1.0)
    barrier.unlink()
    with pytest.raises(TimeoutError, match="did not finish within 2s"):
        phases.wait_for_barrier(barrier, timeout=2, sleep=lambda s: now.__setitem__(0, now[0] + s),
                                clock=lambda: now[0])


def test_fewer_items_than_workers_still_run_the_phase(tmp_path: Path) -> None:
    """One other item for two workers: xdist's own step would shut both workers down at
    the first hand-out, and the held phase would never run."""
    collection = ["test_0", "test_durability_a", "test_durability_b"]
    sched, a, b, barrier = scheduler(tmp_path, collection)
    done = run_all(sched, [a, b], barrier)
    assert sorted(i for _, i, _ in done) == [0, 1, 2]
    assert all(open_ for _, i, open_ in done if i in held_indices(collection))
