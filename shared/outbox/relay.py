"""The outbox relay: publishes committed outbox rows to the bus and the job queue, in order.

It runs inside every API and worker process. On PostgreSQL, rows are claimed with
`FOR UPDATE SKIP LOCKED` under a transaction-scoped advisory lock, so exactly one relay publishes
at a time and every account's events reach its stream in commit order. It is woken right after a
commit that wrote outbox rows; a slow poll is only the safety net for rows written elsewhere.

A row that cannot be published for a reason other than an outage is retried a few times, holding back
only its own account's rows behind it (their order matters), then set aside with its error
(`dead_at`), counted in `handoff_outbox_dead_letters_total`. Published rows are pruned after a week.

With HANDOFF_REDIS_MIN_REPLICAS, a row counts as published only once that many Redis replicas confirmed
its event or job. One they did not confirm stays pending, like a row during an outage, and is counted in
`handoff_outbox_unreplicated_total`; an event keeps the stream id it got (`stream_id`), which its next
publish asks for, so that an event a failover took comes back under the same id.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from contextlib import suppress
from datetime import timedelta
from typing import Any, NamedTuple

import msgspec
from prometheus_client import Counter
from sqlalchemy import ColumnElement, Select, Update, bindparam, delete, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.background import finish
from shared.bus.base import Bus, BusUnavailable, EventNotReplicated, Publish
from shared.clock import utcnow
from shared.db.base import table_of
from shared.db.uow import unit_of_work
from shared.jobs.base import JOB_QUEUES, JobNotReplicated, JobQueue, JobQueueUnavailable
from shared.observability.context import bound_request_id, with_request_id
from shared.outbox.table import OutboxRow

log = logging.getLogger("handoff.outbox")

# Any constant will do; it only has to be the same in every process of one database.
RELAY_LOCK_KEY = 0x48414E444F4646
BUSY = -1
# Failures (not outages) before a row is set aside.
DEAD_LETTER_AFTER = 5
KEEP_PUBLISHED = timedelta(days=7)
PRUNE_EVERY_S = 3600.0
PRUNE_BATCH = 5000


class PendingRow(NamedTuple):
    """What publishing a row needs, read with Core statements (no ORM objects): PENDING_COLUMNS in order."""

    id: int
    account_id: uuid.UUID | None
    kind: str
    topic: str
    job_id: str | None
    payload: dict[str, Any]
    attempts: int
    request_id: str | None
    stream_id: str | None


OUTBOX_TABLE = table_of(OutboxRow)
OUTBOX = OUTBOX_TABLE.c  # the table's own columns: the relay's statements skip the ORM's compile step
PENDING_COLUMNS = (
    OUTBOX.id,
    OUTBOX.account_id,
    OUTBOX.kind,
    OUTBOX.topic,
    OUTBOX.job_id,
    OUTBOX.payload,
    OUTBOX.attempts,
    OUTBOX.request_id,
    OUTBOX.stream_id,
)

DEAD_LETTERS = Counter(
    "handoff_outbox_dead_letters_total", "Outbox rows set aside after repeated failures to publish", ["kind"]
)
UNREPLICATED = Counter(
    "handoff_outbox_unreplicated_total",
    "Publishes fewer Redis replicas confirmed than HANDOFF_REDIS_MIN_REPLICAS asks; the row is published again",
    ["kind"],
)


def _update(where: ColumnElement[bool], **values: Any) -> Update:
    """A plain UPDATE of outbox rows: no ORM objects are loaded here, so none need synchronising."""
    return update(OUTBOX_TABLE).where(where).values(**values)


# Rows sent: one statement for any number of them, built once.
_PUBLISHED = _update(OUTBOX.id.in_(bindparam("ids", expanding=True)), published_at=bindparam("now"))


def _pending(batch_size: int) -> Select[Any]:
    """The first pending rows, row-locked; rows another relay holds are skipped."""
    return (
        select(*PENDING_COLUMNS)
        .where(OUTBOX.published_at.is_(None), OUTBOX.dead_at.is_(None))
        .order_by(OUTBOX.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )


def _locked_pending(batch_size: int) -> Select[Any]:
    """The relay's advisory lock (in a CTE, evaluated once) and, only when it got it, the first pending rows (a
    lateral subquery behind the lock's one-time filter): one row with no outbox columns means the lock is ours and
    nothing is pending."""
    lock = select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY).label("held")).cte("relay_lock")
    batch = _pending(batch_size).where(lock.c.held).lateral("pending")
    return select(lock.c.held, *batch.c).select_from(lock.outerjoin(batch, true()))


class UnpublishableRow(Exception):
    """The row names something nothing can take: an unknown kind or job."""


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: Bus,
        jobs: JobQueue,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 2.0,
        max_backoff_s: float = 5.0,
        dead_letter_after: int = DEAD_LETTER_AFTER,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.bus = bus
        self.jobs = jobs
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self.dead_letter_after = dead_letter_after
        self._next_prune = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Built once: the relay claims after every commit that wrote outbox rows.
        self._claim_pending = _pending(batch_size)
        self._claim_locked = _locked_pending(batch_size)
        # The last batch leaves rows to publish now: it was full, or it set a failing row back (and published others).
        self._more_pending = False

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop; cancel only a relay that does not finish in time."""
        if self._task is None:
            return
        self._stopping.set()
        self._wake.set()
        await finish(self._task)
        self._task = None

    async def _run(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY_S
                    await self.prune()
                sent = await self.run_once()
            except (BusUnavailable, JobQueueUnavailable) as exc:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.2)
                log.warning("outbox relay: %s; retrying in %.1f s", exc, backoff)
                await self._pause(backoff * (0.5 + random.random() / 2))
                continue
            except Exception:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.2)
                log.exception("outbox relay failed; retrying in %.1f s", backoff)
                await self._pause(backoff)
                continue
            if backoff:
                log.info("outbox relay: publishing again")
                backoff = 0.0
            if sent == BUSY:
                await asyncio.sleep(0.02)  # another process is publishing; ours may be next in line
                continue
            if self._more_pending:
                continue
            # Otherwise the batch took every row pending at its claim. Rows committed here since then woke the relay
            # again (the wait below returns at once); rows other processes commit wake their own relay, and the poll
            # is the safety net. So no empty claim follows every publish: that was four round trips per write.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def _pause(self, seconds: float) -> None:
        """Back off; new outbox rows do not cut this short (that would hammer a bus that is down), stopping does."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run_once(self) -> int:
        """Publish one batch; the number of rows sent, or BUSY when another relay holds the lock.

        Core statements, not the ORM: the relay runs after every commit that wrote outbox rows, so
        its cost is on every write path. One SELECT, one UPDATE for the rows sent, one per failure.
        """
        async with unit_of_work(self.sessionmaker) as db:
            claimed = await self._claim(db)
            if claimed is None:
                return BUSY
            published: list[int] = []
            # The row, its error, whether it is set aside now, and the stream id of an event no replica confirmed.
            failed: list[tuple[PendingRow, str, bool, str | None]] = []
            held_back: set[uuid.UUID | None] = set()
            failure: Exception | None = None
            # The whole batch in a round trip per kind; one by one when that fails, which says which row did and why.
            together = len(claimed) > 1 and await self._send_together(claimed)
            if together:
                published = [row.id for row in claimed]
            for row in [] if together else claimed:
                if row.account_id in held_back:
                    continue  # behind a failing row of its account: keep the account's order
                try:
                    await self._send(row)
                except (BusUnavailable, JobQueueUnavailable) as exc:
                    unconfirmed = exc.stream_id if isinstance(exc, EventNotReplicated) else None
                    failed.append((row, str(exc)[:1000], False, unconfirmed))
                    failure = exc
                    if isinstance(exc, EventNotReplicated | JobNotReplicated):
                        UNREPLICATED.labels(row.kind).inc()
                    break
                except Exception as exc:  # noqa: BLE001 - one bad row must not hold up every tenant
                    dead = row.attempts + 1 >= self.dead_letter_after
                    failed.append((row, f"{type(exc).__name__}: {exc}"[:1000], dead, None))
                    if not dead:
                        held_back.add(row.account_id)
                    continue
                published.append(row.id)
            self._more_pending = len(claimed) >= self.batch_size or bool(failed and published)
            now = utcnow()
            if published:
                await db.execute(_PUBLISHED, {"ids": published, "now": now})
            for row, error, dead, unconfirmed in failed:
                values: dict[str, Any] = {"attempts": row.attempts + 1, "last_error": error}
                if dead:
                    values["dead_at"] = now
                if unconfirmed is not None:
                    values["stream_id"] = unconfirmed
                await db.execute(_update(OUTBOX.id == row.id, **values))
        for row, error, dead, _ in failed:
            if dead:
                DEAD_LETTERS.labels(row.kind).inc()
                log.error(
                    "outbox row %d (%s %s) set aside after %d failures: %s",
                    row.id,
                    row.kind,
                    row.topic,
                    row.attempts + 1,
                    error,
                )
        if failure is not None:
            raise failure
        return len(published)

    async def _claim(self, db: AsyncSession) -> list[PendingRow] | None:
        """The relay's lock and the first pending rows, in one round trip; None when another relay holds the lock.

        On PostgreSQL one statement takes the advisory lock and reads and row-locks the batch (`_locked_pending`).
        SQLite has no lock to take (see `shared.db.locks`): the batch is read alone.
        """
        if db.get_bind().dialect.name != "postgresql":
            return [PendingRow(*row) for row in (await db.execute(self._claim_pending)).all()]
        found = (await db.execute(self._claim_locked)).all()
        if not found or not found[0][0]:
            return None
        return [PendingRow(*row[1:]) for row in found if row[1] is not None]

    async def prune(self) -> int:
        """Delete rows published more than a week ago, a batch at a time; the number deleted."""
        cutoff = utcnow() - KEEP_PUBLISHED
        deleted = 0
        while True:
            async with unit_of_work(self.sessionmaker) as db:
                batch = (
                    select(OUTBOX.id)
                    .where(OUTBOX.published_at.is_not(None), OUTBOX.published_at < cutoff)
                    .limit(PRUNE_BATCH)
                )
                result = await db.execute(delete(OUTBOX_TABLE).where(OUTBOX.id.in_(batch)))
            count = int(result.rowcount or 0)  # type: ignore[attr-defined]
            deleted += count
            if count < PRUNE_BATCH:
                if deleted:
                    log.info("outbox: pruned %d rows published before %s", deleted, cutoff.isoformat())
                return deleted

    async def _send_together(self, rows: list[PendingRow]) -> bool:
        """The batch's events in one round trip and its jobs in another; False when that failed in any way (or a row
        is one nothing can take), and the rows are then sent one by one. Sending again is safe: an event goes out once
        per dedupe key, a job once per id."""
        try:
            outgoing = [_outgoing(row) for row in rows]
            await self.bus.publish_many([item for item in outgoing if isinstance(item, Publish)])
            await self.jobs.enqueue_many([item for item in outgoing if not isinstance(item, Publish)])
        except Exception as exc:  # noqa: BLE001 - one by one says which row failed, and why
            log.debug("outbox relay: a batch of %d rows went one by one: %s", len(rows), exc)
            return False
        for row in rows:
            with bound_request_id(row.request_id):
                log.info("outbox: published %s %s", row.kind, row.topic, extra={"outbox_id": row.id})
        return True

    async def _send(self, row: PendingRow) -> None:
        with bound_request_id(row.request_id):
            item = _outgoing(row)
            if isinstance(item, Publish):
                await self.bus.publish(*item[:3], dedupe_key=item.dedupe_key, stream_id=item.stream_id)
            else:
                await self.jobs.enqueue(*item)
            log.info("outbox: published %s %s", row.kind, row.topic, extra={"outbox_id": row.id})


def _outgoing(row: PendingRow) -> Publish | tuple[str, str, dict[str, Any]]:
    """What publishing `row` sends: its event (as it was written; its request id stays in our logs), or its job
    (name, id, payload: the job's run logs under the request id too)."""
    if row.kind == "event":
        data = msgspec.json.encode(row.payload)
        return Publish(str(row.account_id), row.topic, data, f"outbox:{row.id}", row.stream_id)
    if row.kind == "job" and row.topic in JOB_QUEUES:
        return row.topic, row.job_id or f"{row.topic}:{row.id}", with_request_id(row.payload, row.request_id)
    raise UnpublishableRow(f"no {row.kind!r} called {row.topic!r} can be published")
