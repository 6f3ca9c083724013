"""After the load: wait (bounded) until the stack has settled, then check the invariants and print their table.

Settled means: nothing unpublished in the outbox, no delivery pending or being sent, no assessment pending, no
timer pending, no job queued or running. Each is awaited as a condition against the database and Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from shared.bus.base import parse_id, stream_key
from shared.chat.jobs import CLAIMED_ROUND, WITHDRAWN_ROUND
from shared.jobs.arq_private import running_key
from shared.jobs.base import JOB_QUEUES
from tests.soak.faults import Fault
from tests.soak.load import CHAT_LABELS, PATIENCE_S, Answer, ClaimAnswer, Load
from tests.soak.stack import Stack, now

MARKER = re.compile(r"\[handoff-ref:handoff:([0-9a-f-]{36})\]")
MESSAGE_ID = re.compile(r"<handoff-([0-9a-f-]{36})\.r(\d+)\.[0-9a-f]+@[^>]+>")
SHOWN_PER_ROW = 3  # violations spelled out under the table, per invariant
KILL_MARGIN_S = 1.0  # an answer lost this close to its replica's SIGKILL (or restart) is the kill's doing
BUS_MARGIN_S = 5.0  # a stream refused this soon after Redis was away is the outage's doing


@dataclass
class Row:
    invariant: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    note: str = ""

    def fail(self, what: str) -> None:
        self.violations.append(what)


@dataclass
class Facts:
    """Everything the invariants are checked against, read once the stack has settled."""

    handoffs: dict[str, asyncpg.Record]
    deliveries: list[asyncpg.Record]
    outbox_events: list[asyncpg.Record]
    unpublished: list[asyncpg.Record]
    overdue_timers: list[asyncpg.Record]
    streams: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]]


# --- settling ---


async def outstanding(stack: Stack, db: asyncpg.Connection) -> list[str]:
    """What still keeps the stack from having settled; empty once it has."""
    waiting: list[str] = []
    for service in stack.services:
        if not service.running or service.paused:
            waiting.append(f"{service.name} is not running")
    # Jobs first, then the database: a job that starts after this look comes from a row the snapshot still shows.
    queued = sum([int(await stack.redis_client.zcard(queue)) for queue in set(JOB_QUEUES.values())])
    running = len([key async for key in stack.redis_client.scan_iter(match=running_key("*"), count=1000)])
    if queued or running:
        waiting.append(f"{queued} jobs queued, {running} running")
    # One statement, so one snapshot: a timer firing between two separate counts could hide the deliveries it makes.
    row = await db.fetchrow(
        """
        select
          (select count(*) from outbox where published_at is null and dead_at is null) as "outbox rows unpublished",
          (select count(*) from deliveries where status in ('pending', 'sending')) as "deliveries pending or sending",
          (select count(*) from handoffs where assessment_status = 'pending') as "assessments pending",
          (select count(*) from handoff_timers where fired_at is null and cancelled_at is null) as "timers pending"
        """
    )
    assert row is not None
    waiting.extend(f"{count} {what}" for what, count in row.items() if count)
    return waiting


async def settle(stack: Stack, timeout: float, say: Callable[[str], None]) -> bool:
    """Wait until nothing is outstanding (True), or `timeout` seconds (False, having said what was left)."""
    started = now()
    db = await asyncpg.connect(stack.database_dsn)
    try:
        last_said = started
        # Settled at two looks in a row, half a second apart: a worker between two of its writes is not settled.
        quiet = 0
        while quiet < 2:
            waiting = await outstanding(stack, db)
            quiet = 0 if waiting else quiet + 1
            if waiting and now() - started > timeout:
                say(f"not settled after {timeout:.0f} s: {', '.join(waiting)}")
                return False
            if waiting and now() - last_said > 15:
                say(f"settling ({now() - started:.0f} s): {', '.join(waiting)}")
                last_said = now()
            if quiet < 2:
                await asyncio.sleep(0.5)  # poll interval: settling is asked again until the timeout (then reported)
    finally:
        await db.close()
    say(f"settled {now() - started:.1f} s after the load stopped")
    return True


async def stream_tip(stack: Stack, account_id: uuid.UUID) -> str:
    newest = await stack.redis_client.xrevrange(stream_key(str(account_id)), count=1)
    return newest[0][0].decode() if newest else "0-0"


# --- facts ---


async def read_facts(stack: Stack, load: Load) -> Facts:
    db = await asyncpg.connect(stack.database_dsn)
    try:
        handoffs = {
            str(r["id"]): r
            for r in await db.fetch(
                "select id, account_id, status, claimed_by_id, claimed_by_name, claimed_at, assessment_status, "
                "ai_assessment_data, "
                "paging, snapshot->>'ticket_ref' as ticket_ref from handoffs where intent = 'escalate'"
            )
        }
        deliveries = await db.fetch(
            "select handoff_id, channel, recipient, round, user_id, status, attempts, last_error from deliveries"
        )
        outbox_events = await db.fetch("select account_id, payload from outbox where kind = 'event'")
        unpublished = await db.fetch(
            "select id, kind, topic, attempts, last_error, dead_at from outbox where published_at is null"
        )
        overdue = await db.fetch(
            "select handoff_id, kind, round, due_at from handoff_timers "
            "where fired_at is null and cancelled_at is null and due_at < now() - interval '3 seconds'"
        )
    finally:
        await db.close()
    streams: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {}
    for account in load.accounts:
        entries = await stack.redis_client.xrange(stream_key(str(account.id)))
        streams[account.id] = [(raw_id.decode(), json.loads(fields[b"data"])) for raw_id, fields in entries]
    return Facts(handoffs, deliveries, outbox_events, unpublished, overdue, streams)


# --- the invariants ---


def check(stack: Stack, load: Load, faults: list[Fault], facts: Facts, started: float) -> list[Row]:
    return [
        *claims(load, facts),
        emails(stack, facts),
        assessments(facts),
        psa_notes(stack, load, facts),
        webhooks(stack, load, facts),
        chat_posts(load, facts),
        followers(load, facts),
        stream_once(load, facts),
        nothing_pending(facts),
        outbox_published(facts),
        timers(facts),
        server_errors(load.api.answers, faults, started),
        client_view(load),
    ]


def claims(load: Load, facts: Facts) -> list[Row]:
    winners = Row("one winner per claimed escalation")
    losers = Row("every loser was told the winner (409)")
    by_handoff: dict[str, list[ClaimAnswer]] = defaultdict(list)
    for answer in load.claims:
        by_handoff[answer.handoff_id].append(answer)
    claimed_events: Counter[tuple[str, str]] = Counter()
    for entries in facts.streams.values():
        for _, data in entries:
            if data["type"] == "handoff_claimed":
                claimed_events[(str(data["handoff_id"]), str((data["handoff"]["claimed_by"] or {}).get("id")))] += 1
    races = 0
    for handoff_id, row in facts.handoffs.items():
        answers = by_handoff.get(handoff_id, [])
        races += len({a.senior for a in answers}) > 1
        if row["status"] == "open":
            winners.fail(f"{handoff_id} is still open")
        if row["status"] == "claimed":
            winners.checked += 1
            winner = str(row["claimed_by_id"])
            events = sum(n for (h, _), n in claimed_events.items() if h == handoff_id)
            if claimed_events[(handoff_id, winner)] != 1 or events != 1:
                winners.fail(
                    f"{handoff_id}: {events} handoff_claimed events, {claimed_events[(handoff_id, winner)]} "
                    "naming its winner"
                )
        for a in answers:
            if a.status == 200 and (row["status"] != "claimed" or a.named != str(row["claimed_by_id"])):
                winners.fail(
                    f"{handoff_id}: {a.senior} was answered 200 ({a.via}), but it is {row['status']} "
                    f"by {row['claimed_by_id']}"
                )
            if a.status == 409:
                losers.checked += 1
                wrong = told_wrong(a, row)
                if wrong:
                    losers.fail(f"{handoff_id}: a loser ({a.via}) was told {wrong}")
    for escalation in load.escalations:
        withdrawal, row = escalation.withdrawal, facts.handoffs.get(escalation.handoff_id)
        if withdrawal is None or withdrawal.status is None or row is None:
            continue
        losers.checked += withdrawal.status == 409
        if withdrawal.status == 200 and row["status"] != "withdrawn":
            losers.fail(f"{escalation.handoff_id}: the junior was told it is withdrawn, it is {row['status']}")
        if withdrawal.status == 409 and (row["status"] != "claimed" or withdrawal.named != str(row["claimed_by_id"])):
            losers.fail(f"{escalation.handoff_id}: the withdrawal was told {withdrawal.code} {withdrawal.named}")
    unanswered = sum(1 for a in load.claims if a.status is None or a.status >= 500)
    by_link = sum(1 for a in load.claims if a.via == "email_link" and a.status is not None)
    winners.note = f"{races} raced by 2-4 seniors; {len(load.claims)} claim answers, {by_link} by a pick-up link"
    losers.note = f"{unanswered} tries lost with their replica (retried)"
    return [winners, losers]


def told_wrong(answer: ClaimAnswer, row: asyncpg.Record) -> str:
    """What is wrong with a 409 a claimer got, given how the escalation ended ("" when it named the truth)."""
    if answer.code == "handoff_already_claimed" and row["status"] == "claimed":
        if answer.via == "email_link":  # the page names the winner, and when in words
            right = answer.winner_name == row["claimed_by_name"]
        else:
            right = answer.named == str(row["claimed_by_id"]) and same_time(answer.named_at, row)
        return "" if right else f"{answer.named or answer.winner_name} {answer.named_at}, not {row['claimed_by_id']}"
    if answer.code in ("handoff_not_claimable", "withdrawn") and row["status"] == "withdrawn":
        return ""
    return f"{answer.code}, but it is {row['status']}"


def same_time(named_at: str | None, row: asyncpg.Record) -> bool:
    if named_at is None or row["claimed_at"] is None:
        return False
    told = datetime.fromisoformat(named_at.replace("Z", "+00:00"))
    held: datetime = row["claimed_at"]
    return abs((told - held).total_seconds()) < 0.001


def emails(stack: Stack, facts: Facts) -> Row:
    row = Row("one email per paged senior, handoff and round (Message-ID)")
    received = list(stack.receivers.catcher.received)
    copies: Counter[str] = Counter(str(r.message["Message-ID"]) for r in received)
    keys: dict[str, tuple[str, str, int]] = {}
    for r in received:
        message_id = str(r.message["Message-ID"])
        match = MESSAGE_ID.fullmatch(message_id)
        if match is None or len(r.recipients) != 1:
            row.fail(f"an email that no delivery could have sent: {message_id} to {r.recipients}")
            continue
        keys[message_id] = (match[1], r.to, int(match[2]))
    per_key: Counter[tuple[str, str, int]] = Counter(keys.values())
    unconfirmed = 0
    rows = {(str(d["handoff_id"]), d["recipient"], d["round"]): d for d in facts.deliveries if d["channel"] == "email"}
    for key, message_ids in per_key.items():
        if message_ids != 1:
            row.fail(f"{message_ids} different messages for handoff {key[0]}, {key[1]}, round {key[2]}")
        delivery = rows.get(key)
        # A row skipped (withdrawn, or claimed before a reminder) after a try whose answer was lost, or whose worker
        # died mid-send, may have its message delivered all the same: one message still. Without a try counted, a
        # message means a send nobody recorded.
        tried_then_skipped = delivery is not None and delivery["status"] == "skipped" and delivery["attempts"] > 0
        if tried_then_skipped:
            unconfirmed += 1
        elif delivery is None or delivery["status"] != "sent":
            state = delivery and delivery["status"]
            row.fail(f"an email to {key[1]} for {key[0]} round {key[2]}, whose row is {state}")
    skipped: Counter[str] = Counter()
    for key, delivery in rows.items():
        if delivery["status"] == "sent":
            row.checked += 1
            if key not in per_key:
                row.fail(f"row sent, no email arrived: {key[1]} for {key[0]} round {key[2]}")
        elif delivery["status"] == "skipped":
            skipped[str(delivery["last_error"])] += 1
        else:
            row.fail(f"{key[1]} for {key[0]} round {key[2]} ended {delivery['status']}: {delivery['last_error']}")
    for handoff_id, handoff in facts.handoffs.items():
        for page in json.loads(handoff["paging"] or "[]"):
            for user in page["users"]:
                if not any(
                    str(d["user_id"]) == user["id"] and str(d["handoff_id"]) == handoff_id and d["round"] == 0
                    for d in facts.deliveries
                    if d["channel"] == "email"
                ):
                    row.fail(f"{user['id']} was paged for {handoff_id} but has no email row")
    resent = len(received) - len(copies)
    share = f"{resent / len(copies):.2%}" if copies else "-"
    why = ", ".join(f"{n} {reason}" for reason, n in skipped.most_common())
    row.note = f"resent copies {resent} / {len(copies)} messages ({share}); skipped: {why or 'none'}"
    if unconfirmed:
        row.note += f"; {unconfirmed} delivered by an unconfirmed try, their rows skipped after"
    return row


def assessments(facts: Facts) -> Row:
    row = Row("every assessment ready (or failed with the rules' one)")
    statuses: Counter[str] = Counter()
    for handoff_id, handoff in facts.handoffs.items():
        row.checked += 1
        status = handoff["assessment_status"]
        statuses[status] += 1
        data = json.loads(handoff["ai_assessment_data"]) if handoff["ai_assessment_data"] else None
        if status == "ready" and data and data.get("provider") == "openai" and data.get("suggested_steps"):
            continue
        if status == "failed" and data and data.get("provider") == "heuristic" and data.get("suggested_steps"):
            continue
        row.fail(f"{handoff_id}: assessment {status} by {data and data.get('provider')}")
    row.note = f"{statuses['ready']} ready, {statuses['failed']} failed with the rules' assessment"
    return row


def psa_notes(stack: Stack, load: Load, facts: Facts) -> Row:
    row = Row("every PSA note once (by its marker)")
    receivers = stack.receivers
    texts = [str(n.get("text", "")) for n in receivers.connectwise.stored()]
    texts += [str(a.get("note", "")) for a in receivers.halopsa.stored()]
    markers: Counter[str] = Counter(m for text in texts for m in MARKER.findall(text))
    sent = {str(d["handoff_id"]) for d in facts.deliveries if d["channel"] == "psa" and d["status"] == "sent"}
    for d in facts.deliveries:
        if d["channel"] == "psa" and d["status"] not in ("sent", "skipped"):
            row.fail(f"the note for {d['handoff_id']} ended {d['status']}: {d['last_error']}")
    psa_accounts = {a.id for a in load.accounts if a.psa in ("connectwise", "halopsa")}
    for handoff_id, handoff in facts.handoffs.items():
        if handoff["account_id"] not in psa_accounts:
            continue
        row.checked += 1
        expected = 1 if handoff_id in sent else 0
        if markers[handoff_id] != expected:
            row.fail(f"{handoff_id}: {markers[handoff_id]} notes carry its marker, its row says {expected}")
    flaky = receivers.connectwise.flaky
    row.note = (
        f"{len(texts)} notes for {len(sent)} sent rows; vendors failed {flaky.failed_before} posts before "
        f"and {flaky.failed_after} after storing"
    )
    return row


def webhooks(stack: Stack, load: Load, facts: Facts) -> Row:
    row = Row("every webhook once per idempotency key")
    receiver = stack.receivers.webhook
    sent = {str(d["handoff_id"]) for d in facts.deliveries if d["channel"] == "webhook" and d["status"] == "sent"}
    for d in facts.deliveries:
        if d["channel"] == "webhook" and d["status"] not in ("sent", "skipped"):
            row.fail(f"the webhook for {d['handoff_id']} ended {d['status']}: {d['last_error']}")
    hook_accounts = {a.id for a in load.accounts if a.psa == "webhook"}
    for handoff_id, handoff in facts.handoffs.items():
        if handoff["account_id"] not in hook_accounts:
            continue
        row.checked += 1
        key = f"handoff:{handoff_id}"
        stored = receiver.events.get(key)
        if (stored is not None) != (handoff_id in sent):
            row.fail(f"{handoff_id}: received {stored is not None}, row sent {handoff_id in sent}")
        if stored is not None and str(stored.get("handoff_id")) != handoff_id:
            row.fail(f"{key} carried the event of {stored.get('handoff_id')}")
    repeats = sum(n - 1 for n in receiver.deliveries.values())
    row.note = f"{len(receiver.events)} received; {repeats} repeats answered 409 (at-least-once, deduped by key)"
    return row


def chat_posts(load: Load, facts: Facts) -> Row:
    """Teams and Slack: every post the receivers took, by destination, handoff and purpose (round), against the rows.

    A post is at-least-once like an email: a second copy is one try's outcome lost (a worker killed between the
    vendor's answer and the record), so it is counted as resent, and a violation only where the row counts fewer
    tries than posts arrived. A row skipped after tries may have been posted by one of them.
    """
    row = Row("every chat post once per destination, handoff and purpose")
    posts: Counter[tuple[str, str, str, int]] = Counter()  # (kind, label, handoff, round)
    for account in load.accounts:
        for label, receiver in account.chat.items():
            kind = "teams" if label == CHAT_LABELS["teams"] else "slack"
            for body in receiver.accepted():
                handoff_id, round = post_about(kind, body)
                posts[(kind, label, handoff_id, round)] += 1
    rows = {
        (d["channel"], d["recipient"], str(d["handoff_id"]), d["round"]): d
        for d in facts.deliveries
        if d["channel"] in ("teams", "slack")
    }
    resent = unconfirmed = 0
    for key, count in posts.items():
        delivery = rows.get(key)
        if delivery is None:
            row.fail(f"{key[0]} {key[1]!r} got {count} posts for {key[2]} round {key[3]}, with no row")
            continue
        tries = max(1, int(delivery["attempts"]))
        if delivery["status"] == "sent":
            resent += count - 1
        else:
            unconfirmed += count
        if count > tries or (delivery["status"] != "sent" and not delivery["attempts"]):
            row.fail(
                f"{key[0]} {key[1]!r}: {count} posts for {key[2]} round {key[3]}, its row {delivery['status']} "
                f"after {delivery['attempts']} tries"
            )
    for key, delivery in rows.items():
        if delivery["status"] == "sent":
            row.checked += 1
            if not posts[key]:
                row.fail(f"{key[0]} {key[1]!r}: row sent, no post arrived for {key[2]} round {key[3]}")
        elif delivery["status"] == "failed":
            row.fail(f"{key[0]} {key[1]!r} for {key[2]} round {key[3]} failed: {delivery['last_error']}")
    labels = {a.id: list(a.chat) for a in load.accounts}
    for handoff_id, handoff in facts.handoffs.items():
        follow_up = {"claimed": CLAIMED_ROUND, "withdrawn": WITHDRAWN_ROUND}.get(handoff["status"])
        for label in labels.get(handoff["account_id"], []):
            kind = "teams" if label == CHAT_LABELS["teams"] else "slack"
            first = rows.get((kind, label, handoff_id, 0))
            if first is None:
                row.fail(f"{kind} {label!r}: no first post planned for {handoff_id}")
            elif first["status"] == "sent" and follow_up and (kind, label, handoff_id, follow_up) not in rows:
                row.fail(f"{kind} {label!r}: no {handoff['status']} follow-up planned for {handoff_id}")
    by_status = Counter(d["status"] for d in rows.values())
    busy = sum(1 for a in load.accounts for r in a.chat.values() for arrival in r.arrivals if arrival.status == 429)
    row.note = (
        f"{sum(posts.values())} posts ({by_status['sent']} sent, {by_status['skipped']} skipped), {busy} answered "
        f"429 and posted later; resent copies "
        f"{resent}; {unconfirmed} by an unconfirmed try, their rows skipped after"
    )
    return row


HEADLINE = re.compile(r"New escalation|Reminder (\d+)|Picked up by|Withdrawn by")


def post_about(kind: str, body: dict[str, Any]) -> tuple[str, int]:
    """The handoff a post is about (its link) and its purpose as a delivery round, read as a person reads it."""
    link = re.search(r"/#/handoffs/([0-9a-f-]{36})", json.dumps(body))
    headline = body["attachments"][0]["content"]["body"][0]["text"] if kind == "teams" else body["text"]
    purpose = HEADLINE.search(headline)
    if link is None or purpose is None:
        return "?", -1
    rounds = {"New escalation": 0, "Picked up by": CLAIMED_ROUND, "Withdrawn by": WITHDRAWN_ROUND}
    return link[1], int(purpose[1]) if purpose[1] else rounds[purpose[0]]


def followers(load: Load, facts: Facts) -> Row:
    row = Row("every dashboard saw each event once, in order")
    connects = resyncs = 0
    for follower in load.followers:
        connects += follower.connects
        resyncs += follower.resyncs
        who = f"dashboard of {follower.senior.name}"
        if follower.baseline is None:
            row.fail(f"{who} never connected")
            continue
        base = parse_id(follower.baseline)
        expected = [entry_id for entry_id, _ in facts.streams[follower.account.id] if parse_id(entry_id) > base]
        seen = [s.id for s in follower.seen]
        row.checked += len(expected)
        if follower.resyncs:
            row.fail(f"{who} was told to resync {follower.resyncs} times")
        if seen != expected:
            missing = len(set(expected) - set(seen))
            doubled = len(seen) - len(set(seen))
            disordered = sum(1 for a, b in itertools.pairwise(seen) if parse_id(a) >= parse_id(b))
            row.fail(f"{who}: {missing} missed, {doubled} twice, {disordered} out of order of {len(expected)}")
    row.note = f"{len(load.followers)} dashboards, {connects} connections ({connects - len(load.followers)} resumed)"
    return row


def stream_once(load: Load, facts: Facts) -> Row:
    row = Row("every committed event on its stream once")
    accounts = {a.id for a in load.accounts}
    written: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    for event in facts.outbox_events:
        if event["account_id"] in accounts:
            written[event["account_id"]][canonical(json.loads(event["payload"]))] += 1
    for account_id in accounts:
        published = Counter(canonical(data) for _, data in facts.streams[account_id])
        row.checked += sum(written[account_id].values())
        for event, count in (written[account_id] - published).items():
            row.fail(f"written {count} more times than published: {event[:120]}")
        for event, count in (published - written[account_id]).items():
            row.fail(f"published {count} more times than written: {event[:120]}")
    row.note = "outbox rows of kind event against XRANGE of each account's stream"
    return row


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


def nothing_pending(facts: Facts) -> Row:
    row = Row("no delivery pending or sending", checked=len(facts.deliveries))
    for d in facts.deliveries:
        if d["status"] in ("pending", "sending"):
            row.fail(f"{d['channel']} to {d['recipient']} for {d['handoff_id']} round {d['round']} is {d['status']}")
    by_channel = Counter(f"{d['channel']} {d['status']}" for d in facts.deliveries)
    row.note = ", ".join(f"{count} {what}" for what, count in sorted(by_channel.items()))
    return row


def outbox_published(facts: Facts) -> Row:
    row = Row("no outbox row unpublished (or set aside)")
    row.checked = len(facts.outbox_events)
    for r in facts.unpublished:
        state = "set aside" if r["dead_at"] else "unpublished"
        row.fail(f"outbox {r['id']} ({r['kind']} {r['topic']}) {state} after {r['attempts']} tries: {r['last_error']}")
    row.note = "events and jobs alike"
    return row


def timers(facts: Facts) -> Row:
    row = Row("no timer overdue")
    for t in facts.overdue_timers:
        row.fail(f"{t['kind']} {t['round']} of {t['handoff_id']} was due at {t['due_at']}")
    row.checked = len(facts.handoffs)
    row.note = "pending timers due over 3 s ago, across every escalation"
    return row


def server_errors(answers: Iterable[Answer], faults: list[Fault], started: float) -> Row:
    """Every 5xx, and every answer lost on the way, must be a fault's doing at that very moment.

    A connection lost to a replica while it was being killed and restarted; a 503 `unavailable` from a request
    whose database connection the proxy cut under it; a stream refused with 503 `unavailable` (the contract's
    answer) while Redis was away. Anything else fails the invariant.
    """
    row = Row("no 5xx answered (but at the moment of a kill)")
    killed = [
        (f.target, f.began - KILL_MARGIN_S, (f.ended or now()) + KILL_MARGIN_S) for f in faults if f.kind == "kill"
    ]
    cuts = [f.began for f in faults if f.target == "pg" and f.kind in ("down", "reset")]
    bus_away = [
        (f.began, (f.ended or now()) + BUS_MARGIN_S)
        for f in faults
        if f.kind in ("redis restart", "master kill") or (f.target == "redis" and f.kind in ("down", "reset", "stall"))
    ]
    lost = cut = refused = 0
    for a in answers:
        row.checked += 1
        unavailable = a.status == 503 and a.code == "unavailable"
        if a.status is None:
            if any(t == a.replica and begin <= a.ended and a.started <= end for t, begin, end in killed):
                lost += 1
                continue
            at = f"{a.started - started:.1f}-{a.ended - started:.1f} s"
            row.fail(f"{a.label} on {a.replica} at {at}: connection lost ({a.error}) with no kill near")
        elif a.status >= 500:
            if unavailable and any(a.started - KILL_MARGIN_S <= at <= a.ended + KILL_MARGIN_S for at in cuts):
                cut += 1
                continue
            if unavailable and a.label == "stream" and any(b <= a.ended and a.started <= e for b, e in bus_away):
                refused += 1
                continue
            row.fail(f"{a.label} on {a.replica} at {a.started - started:.1f} s: {a.status} {a.code}")
    row.note = (
        f"{lost} connections lost to a replica being killed; {cut} 503 as the database connection was cut; "
        f"{refused} streams 503 while Redis was away"
    )
    return row


def client_view(load: Load) -> Row:
    row = Row("every answer one a client expects", checked=len(load.escalations))
    for error in load.errors:
        row.fail(error)
    row.note = (
        f"{len(load.escalations)} escalations; {load.lost_escalations} abandoned after {PATIENCE_S:.0f} s of tries"
    )
    if load.lost_escalations:
        row.fail(f"{load.lost_escalations} escalations could not be made in {PATIENCE_S:.0f} s of tries")
    return row


# --- the table ---


def table(rows: list[Row]) -> str:
    header = ("invariant", "checked", "violations", "note")
    lines = [(r.invariant, str(r.checked), str(len(r.violations)), r.note) for r in rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(3)]

    def fmt(cells: tuple[str, str, str, str]) -> str:
        return (f"| {cells[0]:<{widths[0]}} | {cells[1]:>{widths[1]}} | {cells[2]:>{widths[2]}} | {cells[3]}").rstrip()

    rule = f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 2)}|{'-' * (widths[2] + 2)}|{'-' * 10}"
    out = [fmt(header), rule, *(fmt(line) for line in lines)]
    for r in rows:
        for violation in r.violations[:SHOWN_PER_ROW]:
            out.append(f"  ✗ {r.invariant}: {violation}")
        if len(r.violations) > SHOWN_PER_ROW:
            out.append(f"  ✗ {r.invariant}: … and {len(r.violations) - SHOWN_PER_ROW} more")
    return "\n".join(out)
