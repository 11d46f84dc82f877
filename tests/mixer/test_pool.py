from __future__ import annotations

import threading
import time

import pytest

from mcu.mixer.pool import DeadlinePool


def test_the_earliest_deadline_runs_first_and_ties_keep_their_order() -> None:
    pool = DeadlinePool(1, name="test")
    gate = threading.Event()
    ran: list[str] = []
    pool.submit_by(0.0, gate.wait)  # holds the one worker while the others queue
    futures = [pool.submit_by(due, ran.append, name)
               for due, name in [(3.0, "young"), (1.0, "old"), (2.0, "middle"),
                                 (1.0, "old too")]]
    gate.set()
    for future in futures:
        future.result(timeout=5)
    assert ran == ["old", "old too", "middle", "young"]
    pool.shutdown()


def test_plain_submit_counts_as_due_now() -> None:
    pool = DeadlinePool(1, name="test")
    gate = threading.Event()
    ran: list[str] = []
    pool.submit_by(0.0, gate.wait)
    later = pool.submit_by(time.monotonic() + 60, ran.append, "next minute's tick")
    now = pool.submit(ran.append, "thumbnail")
    older = pool.submit_by(time.monotonic() - 1, ran.append, "last second's tick")
    gate.set()
    for future in (later, now, older):
        future.result(timeout=5)
    assert ran == ["last second's tick", "thumbnail", "next minute's tick"]
    pool.shutdown()


def test_results_errors_map_and_shutdown() -> None:
    with DeadlinePool(2, name="test") as pool:
        assert list(pool.map(lambda x: x * x, range(5))) == [0, 1, 4, 9, 16]
        failing = pool.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(timeout=5)
        assert pool.submit(lambda: "still working").result(timeout=5) == "still working"
    with pytest.raises(RuntimeError):
        pool.submit(print)
    assert not any(t.name.startswith("test_") and t.is_alive() for t in threading.enumerate())


def test_two_workers_run_side_by_side() -> None:
    with DeadlinePool(2, name="test") as pool:
        barrier = threading.Barrier(2, timeout=5)
        first, second = pool.submit(barrier.wait), pool.submit(barrier.wait)
        first.result(timeout=5)
        second.result(timeout=5)


def test_cancelled_on_shutdown_and_no_workers_refused() -> None:
    pool = DeadlinePool(1, name="test")
    gate = threading.Event()
    pool.submit(gate.wait)
    queued = pool.submit(print, "never")
    threading.Timer(0.05, gate.set).start()
    pool.shutdown(wait=True, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(ValueError):
        DeadlinePool(0)
