"""Group commit: requests share transactions, yet each gets the answer it would get alone."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pytest

from bitgoeul.errors import ConflictError
from bitgoeul.ingest.source import READINGS_SCHEMA
from bitgoeul.model import Meter, Organisation, Site
from bitgoeul.services.commit_queue import CommitQueue, CommittedBatch
from bitgoeul.store import DuckDBStore

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def readings(meter: str, start: int, n: int, value: float = 0.25) -> pa.Table:
    return pa.table(
        {
            "meter_id": [meter] * n,
            "ts": [T0 + dt.timedelta(hours=start + i) for i in range(n)],
            "energy_kwh": [value] * n,
        },
        schema=READINGS_SCHEMA,
    )


def stored(store: DuckDBStore, meter: str) -> dict[dt.datetime, float]:
    t = store.read_readings(meter)
    return dict(zip(t.column("ts").to_pylist(), t.column("energy_kwh").to_pylist(), strict=True))


@pytest.fixture
def db(store: DuckDBStore) -> DuckDBStore:
    store.upsert_organisation(Organisation(org_id="o", name=""))
    store.upsert_site(Site(site_id="s", org_id="o"))
    for m in ("a", "b", "c", "d"):
        store.upsert_meter(Meter(meter_id=m, site_id="s", interval_s=3600))
    return store


class Gate:
    """The store lock given to the queue, that tells when the writer is waiting for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writer_waiting = threading.Event()

    def __enter__(self) -> None:
        self.writer_waiting.set()
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


@pytest.fixture
def held(db: DuckDBStore) -> Iterator[tuple[CommitQueue, Gate]]:
    gate = Gate()
    queue = CommitQueue(db, lock=gate)
    yield queue, gate
    queue.close()


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def submit_while_held(
    queue: CommitQueue, gate: Gate, tables: list[tuple[pa.Table, str]]
) -> list[Future[CommittedBatch]]:
    """Submit ``tables`` in order while the writer waits at the gate: they form one group.

    A first one-reading request is taken by the writer, which then waits for the
    store lock; the others queue behind it and are committed together once it opens.
    """
    pool = ThreadPoolExecutor(max_workers=len(tables) + 1)
    futures: list[Future[CommittedBatch]] = []
    with gate.lock:
        gate.writer_waiting.clear()  # earlier commits have finished
        futures.append(pool.submit(queue.submit, readings("d", 10_000, 1)))
        assert gate.writer_waiting.wait(10)
        for n, (table, policy) in enumerate(tables, start=1):
            futures.append(pool.submit(queue.submit, table, on_conflict=policy))  # type: ignore[arg-type]
            wait_for(lambda n=n: queue._queue.qsize() == n)  # type: ignore[misc]
    pool.shutdown(wait=True)
    assert futures[0].result().requests == 1
    return futures[1:]


def test_waiting_requests_are_committed_in_one_transaction(
    db: DuckDBStore, held: tuple[CommitQueue, Gate]
) -> None:
    queue, lock = held
    tables = [(readings(m, 0, 24), "refuse") for m in ("a", "b", "c")]
    results = [f.result() for f in submit_while_held(queue, lock, tables)]
    assert [r.requests for r in results] == [3, 3, 3]
    assert [r.received for r in results] == [24, 24, 24]
    assert len({r.report.batch_id for r in results}) == 1
    assert results[0].report.inserted == 72
    assert all(len(stored(db, m)) == 24 for m in ("a", "b", "c"))


def test_a_conflict_fails_only_its_own_request(
    db: DuckDBStore, held: tuple[CommitQueue, Gate]
) -> None:
    queue, lock = held
    queue.submit(readings("a", 0, 24, value=0.25))
    tables = [
        (readings("b", 0, 24), "refuse"),
        (readings("a", 0, 24, value=0.75), "refuse"),  # differs from what is stored
        (readings("c", 0, 24), "refuse"),
    ]
    ok_b, conflict, ok_c = submit_while_held(queue, lock, tables)
    with pytest.raises(ConflictError):
        conflict.result()
    assert ok_b.result().requests == 1  # committed alone after the group failed
    assert ok_c.result().report.inserted == 24
    assert set(stored(db, "a").values()) == {0.25}
    assert len(stored(db, "b")) == len(stored(db, "c")) == 24


def test_requests_that_disagree_are_answered_in_arrival_order(
    db: DuckDBStore, held: tuple[CommitQueue, Gate]
) -> None:
    queue, lock = held
    first, second = submit_while_held(
        queue, lock, [(readings("a", 0, 5, 1.0), "refuse"), (readings("a", 0, 5, 2.0), "refuse")]
    )
    assert first.result().report.inserted == 5
    with pytest.raises(ConflictError):
        second.result()
    assert set(stored(db, "a").values()) == {1.0}


def test_corrections_and_refusals_in_one_group_keep_their_policies(
    db: DuckDBStore, held: tuple[CommitQueue, Gate]
) -> None:
    queue, lock = held
    queue.submit(readings("a", 0, 5, 1.0))
    queue.submit(readings("b", 0, 5, 1.0))
    refused, corrected = submit_while_held(
        queue, lock, [(readings("a", 0, 5, 3.0), "refuse"), (readings("b", 0, 5, 3.0), "correct")]
    )
    with pytest.raises(ConflictError):
        refused.result()
    assert corrected.result().report.corrected == 5
    assert set(stored(db, "a").values()) == {1.0}
    assert set(stored(db, "b").values()) == {3.0}


def test_the_same_batch_twice_is_unchanged(db: DuckDBStore) -> None:
    queue = CommitQueue(db)
    try:
        assert queue.submit(readings("a", 0, 10)).report.inserted == 10
        again = queue.submit(readings("a", 0, 10))
        assert (again.report.inserted, again.report.unchanged) == (0, 10)
    finally:
        queue.close()
    assert len(stored(db, "a")) == 10


def test_close_commits_what_is_queued_then_refuses_more(db: DuckDBStore) -> None:
    gate = Gate()
    queue = CommitQueue(db, lock=gate)
    pool = ThreadPoolExecutor(max_workers=2)
    with gate.lock:
        futures = [pool.submit(queue.submit, readings("a", 0, 3))]
        assert gate.writer_waiting.wait(10)
        futures.append(pool.submit(queue.submit, readings("b", 0, 3)))
        wait_for(lambda: queue._queue.qsize() == 1)
        closer = threading.Thread(target=queue.close)
        closer.start()
        wait_for(lambda: queue._queue.qsize() == 2)  # the stop sign is behind the request
    closer.join(timeout=10)
    assert not closer.is_alive()
    assert [f.result().received for f in futures] == [3, 3]
    pool.shutdown()
    with pytest.raises(RuntimeError, match="closed"):
        queue.submit(readings("c", 0, 1))
    assert len(stored(db, "a")) == len(stored(db, "b")) == 3
