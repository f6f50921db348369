"""The last phase: contracts that restart or kill services (durability, resilience) run
after every other contract, so that no other contract ever sees a restart.

Serially that is only an order (`last_phase_last`). Under pytest-xdist the controller's
scheduler holds the last phase back until every other item has been handed out, then
gives all of it, in collection order, to one worker and shuts the others down; the
scheduler touches a barrier file once every other item has *finished*, and the worker
waits for it (`wait_for_barrier`) before its first restart, since the other workers may
still be running their last item when the phase is handed out.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from xdist.scheduler.worksteal import MIN_PENDING, WorkStealingScheduling

from conformance.session import is_active

# the areas whose contracts restart or kill services of the target
LAST_AREAS = ("durability", "resilience")
BARRIER_NAME = "first-phase-done"
# how long the phase waits for the rest of the run: when it is handed out, every other
# worker is at its last item, bounded by that item's timeout (the longest contract's is
# 900 s), so this only bounds a worker that never reports back
BARRIER_WAIT_S = 1000.0
BARRIER_POLL_S = 0.2
# the dist modes whose scheduler this one replaces: both hand out single items
SCHEDULED_DISTS = ("load", "worksteal")
# workerinput keys: the barrier file, or the dist mode that cannot order the phase
BARRIER_INPUT = "soma_phase_barrier"
UNORDERED_INPUT = "soma_phase_unordered"
BARRIER_DIR_KEY = pytest.StashKey[Path]()

T = TypeVar("T")


def last_phase_last(items: list[T], is_last: Callable[[T], bool]) -> list[T]:
    """The items with the last phase's moved to the end, each group in its own order."""
    return [i for i in items if not is_last(i)] + [i for i in items if is_last(i)]


class LastPhaseScheduling(WorkStealingScheduling):  # type: ignore[misc]
    """Work stealing for every item but the last phase's, which is held back until no
    other item is left to hand out, then sent whole to one worker."""

    steal_requested_from_node: Any  # set by WorkStealingScheduling, which has no types

    def __init__(self, config: Any, log: Any, is_last: Callable[[str], bool], barrier: Path) -> None:
        super().__init__(config, log)
        self._is_last = is_last
        self._barrier = barrier
        self._held: list[int] | None = None  # None: collection not split yet
        self._first_open: set[int] = set()

    def _split(self) -> None:
        if self._held is not None or self.collection is None:
            return
        self._held = [i for i in self.pending if self._is_last(self.collection[i])]
        held = set(self._held)
        self.pending[:] = [i for i in self.pending if i not in held]
        self._first_open = set(range(len(self.collection))) - held
        self._check_barrier()

    def _check_barrier(self) -> None:
        if not self._first_open:
            self._barrier.parent.mkdir(parents=True, exist_ok=True)
            self._barrier.touch()

    def mark_test_complete(self, node: Any, item_index: int, duration: float | None = None) -> None:
        self._first_open.discard(item_index)
        self._check_barrier()
        super().mark_test_complete(node, item_index, duration)

    def remove_node(self, node: Any) -> str | None:
        pending = self.node2pending.get(node) or []
        if pending:  # the item it crashed in will never complete
            self._first_open.discard(pending[0])
            self._check_barrier()
        result: str | None = super().remove_node(node)
        return result

    def check_schedule(self) -> None:
        """Work stealing's own steps (hand out, else steal, else shut idle workers down),
        except that where it would shut the last workers down, the held phase goes to one
        of them first: xdist's version could shut every worker down before that point."""
        self._split()
        up = {n: p for n, p in self.node2pending.items() if not n.shutting_down}
        idle = [n for n, p in up.items() if len(p) < MIN_PENDING]
        if not idle:
            return
        if self.pending:
            for i, node in enumerate(idle):
                self._send_tests(node, len(self.pending) // (len(idle) - i))
            idle = [n for n, p in up.items() if len(p) < MIN_PENDING]
            if not idle:
                return
        if self.steal_requested_from_node is not None:
            return
        richest = max(up, key=lambda n: len(up[n]))
        steal = min(len(up[richest]) // 2, max(0, len(up[richest]) - MIN_PENDING))
        if steal:
            richest.send_steal(up[richest][-steal:])
            self.steal_requested_from_node = richest
            return
        if self._held and len(idle) == len(up):
            chosen, held = idle[0], self._held
            self._held = []
            self.pending.extend(held)
            self._send_tests(chosen, len(self.pending))
            idle.remove(chosen)  # it runs the phase; the others end, leaving it the target
        for node in idle:
            node.shutdown()  # runs its last item now instead of waiting for more


def wait_for_barrier(barrier: Path | None, timeout: float = BARRIER_WAIT_S,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> float:
    """Seconds waited until every first-phase item finished (None: a serial run, where
    the order alone does it). Raises TimeoutError naming the bound."""
    if barrier is None:
        return 0.0
    start = clock()
    while not barrier.exists():
        if clock() - start > timeout:
            raise TimeoutError(f"the other contracts did not finish within {timeout:.0f}s "
                               f"(no {barrier.name} from the xdist controller)")
        sleep(BARRIER_POLL_S)
    return clock() - start


def is_last_phase(item: pytest.Item) -> bool:
    """Whether the item belongs to a last-phase area (its area marker, from the catalog)."""
    return any(item.get_closest_marker(area) is not None for area in LAST_AREAS)


def _barrier(config: pytest.Config) -> Path:
    """The controller's barrier file (its folder made once, removed with the temp dir)."""
    if BARRIER_DIR_KEY not in config.stash:
        config.stash[BARRIER_DIR_KEY] = Path(tempfile.mkdtemp(prefix="soma-phase-"))
    return config.stash[BARRIER_DIR_KEY] / BARRIER_NAME


def hand_to_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    """Controller: tell a worker where the barrier is, or that this dist mode cannot
    order the last phase (its contracts then skip, saying so)."""
    dist = str(getattr(config.option, "dist", "no"))
    if dist in SCHEDULED_DISTS:
        workerinput[BARRIER_INPUT] = str(_barrier(config))
    else:
        workerinput[UNORDERED_INPUT] = dist


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The suite's runs with `-n` (dist load or worksteal) hold the last phase back."""
    if not is_active(config) or str(getattr(config.option, "dist", "no")) not in SCHEDULED_DISTS:
        return None

    def last(nodeid: str) -> bool:
        return any(f"/test_{area}.py::" in f"/{nodeid}" for area in LAST_AREAS)

    return LastPhaseScheduling(config, log, last, _barrier(config))


def wait_for_the_rest(config: pytest.Config) -> float:
    """A last-phase contract, before it restarts anything: seconds waited for every other
    contract to finish. Skips where the dist mode cannot order the phase."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    if UNORDERED_INPUT in workerinput:
        pytest.skip(f"restarts services, and --dist {workerinput[UNORDERED_INPUT]} cannot run it after "
                    f"every other contract: run with --dist load or worksteal, or without -n")
    barrier = workerinput.get(BARRIER_INPUT)
    try:
        return wait_for_barrier(Path(barrier) if barrier else None)
    except TimeoutError as exc:
        pytest.fail(str(exc), pytrace=False)
