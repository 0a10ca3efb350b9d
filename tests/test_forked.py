"""forked.ordered: results of forked workers, in item order, errors in place."""

from __future__ import annotations

import os
import threading

import pytest

from encoder.forked import WorkerDied, ordered


def _square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


@pytest.mark.parametrize("jobs", (1, 2, 3))
@pytest.mark.parametrize("n", (0, 1, 5, 37))
@pytest.mark.parametrize("chunk", (1, 4))
def test_results_come_in_item_order(jobs, n, chunk):
    items = list(range(n))
    got = list(ordered(_square_with_pid, items, jobs, chunk))
    assert [item for item, _ in got] == items
    assert [r[0] for _, r in got] == [x * x for x in items]
    pids = [r[1] for _, r in got]
    assert os.getpid() not in pids
    # chunk c went to worker c % jobs: one process per chunk, jobs of them
    for i, pid in enumerate(pids):
        assert pid == pids[((i // chunk) % jobs) * chunk]
    assert len(set(pids)) == min(jobs, -(-n // chunk))


def _fail_at_seven(x: int) -> int:
    if x == 7:
        raise ValueError(f"bad item {x}")
    return x


def test_an_exception_comes_back_in_its_items_place():
    seen = []
    with pytest.raises(ValueError, match="bad item 7"):
        for _, value in ordered(_fail_at_seven, list(range(20)), 2, 2):
            seen.append(value)
    assert seen == list(range(7))


def _die_at_five(x: int) -> int:
    if x == 5:
        os._exit(3)
    return x


def test_a_worker_that_dies_is_reported():
    seen = []
    with pytest.raises(WorkerDied, match="item 5"):
        for _, value in ordered(_die_at_five, list(range(12)), 2, 1):
            seen.append(value)
    assert seen == list(range(5))


def _unpicklable(x: int):
    return threading.Lock()


def test_an_unpicklable_result_is_an_error():
    with pytest.raises(RuntimeError, match="worker"):
        list(ordered(_unpicklable, [1, 2], 2))


def test_leaving_early_reaps_the_workers():
    gen = ordered(_square_with_pid, list(range(1000)), 2, 4)
    _, (_, pid) = next(gen)
    gen.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)      # already reaped: not our child any more


def test_results_bigger_than_a_pipe_arrive_whole():
    big = list(ordered(lambda x: bytes([x]) * (3 << 20), [1, 2, 3], 2, 1))
    assert [v for _, v in big] == [bytes([x]) * (3 << 20) for x in (1, 2, 3)]
