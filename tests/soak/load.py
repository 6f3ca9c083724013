"""The soak's load: accounts with rotations, two-step policies, PSA or webhook connections and Teams or Slack
destinations; escalations; seniors racing to claim them through the API and through their emails' pick-up links;
juniors withdrawing some; dashboards following their account's stream through any replica.

Every HTTP answer (or the transport error instead of one) is recorded with its replica and time, for the checker.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

import httpx

from tests.soak.stack import TICKETS, Service, Stack, now
from tests.support.chat_servers import ChatReceiver
from tests.support.pick_up import links_in_text, path_of
from tests.support.sse import Frame, SSEClient
from tests.support.tenants import mint_token
from tests.support.waiting import eventually

SENIOR_ROLES = ("engineer", "engineer", "admin", "owner")
URGENCIES = ("low", "normal", "normal", "high")
PSA_KINDS = ("connectwise", "halopsa", "webhook", "none")
# The chat destinations of an account, drawn independently of its PSA kind; each has a receiver of its own.
CHAT_SETUPS: tuple[tuple[str, ...], ...] = (("teams",), ("slack",), ("teams", "slack"), ())
CHAT_LABELS = {"teams": "Service desk", "slack": "#escalations"}
SECOND_STEP_S = 8
ON_CALL_START = "2026-01-05T00:00"  # long past: the rotation always has someone on call
# How the seniors answer an escalation: (weight, fate).
FATES = ((0.70, "race"), (0.10, "withdraw"), (0.20, "late"))
# When a race's claims come, after the escalation: soon (before step 1), later, or after a reminder.
CLAIM_DELAYS = ((0.4, (0.0, 3.0)), (0.4, (3.0, 12.0)), (0.2, (12.0, 30.0)))
# A dashboard or the main application tries again on a lost connection or a 5xx, on another replica, for so long.
PATIENCE_S = 60.0


@dataclass
class Person:
    id: uuid.UUID
    name: str
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Account:
    id: uuid.UUID
    service: Person
    juniors: list[Person] = field(default_factory=list)
    seniors: list[Person] = field(default_factory=list)
    psa: str = "none"
    stale_claim_s: int = 0
    chat_kinds: tuple[str, ...] = ()
    chat: dict[str, ChatReceiver] = field(default_factory=dict)  # by the destination's label


@dataclass
class Answer:
    """One HTTP exchange: `status` None when the connection failed instead (`error` says how)."""

    started: float
    ended: float
    replica: str
    label: str
    status: int | None
    code: str = ""
    error: str = ""


@dataclass
class ClaimAnswer:
    handoff_id: str
    senior: uuid.UUID
    status: int | None
    code: str = ""
    named: str | None = None  # the winner's id, as the answer names it (200 body or 409 body)
    named_at: str | None = None
    via: str = "api"  # or "email_link": the pick-up link of the senior's email, pressed
    winner_name: str | None = None  # whom a pick-up page names as the winner ("" for a withdrawn escalation)


@dataclass
class Escalation:
    handoff_id: str
    account: Account
    junior: Person
    ticket_ref: str | None
    fate: str
    withdrawal: ClaimAnswer | None = None  # the answer to the junior's withdrawal (`named`: a winner it names)


@dataclass
class Seen:
    id: str
    event: str
    handoff_id: str


@dataclass
class Follower:
    """A senior's dashboard on the stream: it resumes with Last-Event-ID on whichever replica it can reach."""

    account: Account
    senior: Person
    baseline: str | None = None  # the stream's tip when the dashboard first connected
    last_id: str | None = None
    seen: list[Seen] = field(default_factory=list)
    connects: int = 0
    resyncs: int = 0
    done: bool = False


class Api:
    """The replicas as a client sees them; every answer is recorded."""

    def __init__(self, stack: Stack, rng: Random) -> None:
        self.stack = stack
        self.rng = rng
        self.answers: list[Answer] = []

    def replica(self, avoid: Service | None = None) -> Service:
        choices = [api for api in self.stack.apis if api is not avoid]
        return self.rng.choice(choices)

    async def call(
        self, person: Person | None, method: str, path: str, label: str, *, replica: Service, body: Any = None
    ) -> httpx.Response | None:
        """One request as `person` (None: nobody signed in, as a pick-up link is pressed)."""
        started = now()
        headers = person.headers if person is not None else {}
        try:
            response = await self.stack.http.request(method, replica.url + path, json=body, headers=headers, timeout=30)
        except httpx.TransportError as exc:
            self.answers.append(Answer(started, now(), replica.name, label, None, error=type(exc).__name__))
            return None
        code = ""
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
            code = str(response.json().get("code", ""))
        self.answers.append(Answer(started, now(), replica.name, label, response.status_code, code))
        return response

    async def retried(
        self,
        person: Person | None,
        method: str,
        path: str,
        label: str,
        body: Any = None,
        *,
        each: Callable[[httpx.Response | None], None] = lambda _: None,
    ) -> httpx.Response | None:
        """The first answer below 500: tried on one replica, then another after a pause, while the connection
        fails or a 5xx comes back, for up to PATIENCE_S; None if none came. `each` sees every try's answer."""
        replica = self.replica()
        deadline = now() + PATIENCE_S
        attempt = 0
        while True:
            response = await self.call(person, method, path, label, replica=replica, body=body)
            each(response)
            if response is not None and response.status_code < 500:
                return response
            if now() > deadline:
                return None
            await asyncio.sleep(min(3.0, 0.2 * 2**attempt) * (0.5 + self.rng.random()))  # pace: a client's backoff
            attempt += 1
            replica = self.replica(avoid=replica)


class Load:
    """Builds the accounts, then runs escalations, claims, withdrawals and dashboards until told to close."""

    def __init__(self, stack: Stack, rng: Random, *, accounts: int, rate: float, say: Callable[[str], None]) -> None:
        self.stack = stack
        self.rng = rng
        self.api = Api(stack, rng)
        self.account_count = accounts
        self.rate = rate
        self.say = say
        self.accounts: list[Account] = []
        self.escalations: list[Escalation] = []
        self.claims: list[ClaimAnswer] = []
        self.followers: list[Follower] = []
        self.lost_escalations = 0  # gave up creating one (every retry failed): nothing to check of it
        self.errors: list[str] = []
        self.closing = asyncio.Event()
        self._fates: set[asyncio.Task[None]] = set()
        self._follower_tasks: list[asyncio.Task[None]] = []
        self._count = 0

    # --- accounts ---

    def person(self, account_id: uuid.UUID | None, role: str, name: str) -> Person:
        user_id = uuid.uuid4()
        email = f"{name.lower().replace(' ', '.')}-{str(user_id)[:8]}@msp.test"
        token = mint_token(self.stack.env["HANDOFF_JWT_SECRET"], user_id, account_id, role, name, email=email)
        return Person(user_id, name, email, role, token)

    async def setup(self) -> None:
        """The accounts (drawn first, made four at a time), then a dashboard or two following each one."""
        self.accounts = [self._account(n) for n in range(self.account_count)]
        gate = asyncio.Semaphore(4)

        async def make(account: Account) -> None:
            async with gate:
                await self._make(account)

        await asyncio.gather(*(make(account) for account in self.accounts))
        for account in self.accounts:
            for senior in self.rng.sample(account.seniors, self.rng.choice((1, 2))):
                follower = Follower(account, senior)
                self.followers.append(follower)
                self._follower_tasks.append(asyncio.create_task(self._follow(follower)))
        await eventually(lambda: all(f.baseline is not None for f in self.followers), 60, "every dashboard")

    def _account(self, n: int) -> Account:
        """Account n as drawn: 1 or 2 juniors, 3 to 6 seniors, its PSA kind and whether claims go stale."""
        account_id = uuid.uuid4()
        account = Account(account_id, self.person(None, "service", "Main application"))
        account.psa = PSA_KINDS[n % len(PSA_KINDS)]
        account.chat_kinds = CHAT_SETUPS[(n // 2) % len(CHAT_SETUPS)]
        account.stale_claim_s = self.rng.choice((0, 8))
        juniors = range(self.rng.choice((1, 2)))
        account.juniors = [self.person(account_id, "engineer", f"Junior {n}-{j}") for j in juniors]
        seniors = range(self.rng.randint(3, 6))
        account.seniors = [self.person(account_id, self.rng.choice(SENIOR_ROLES), f"Senior {n}-{s}") for s in seniors]
        return account

    async def _make(self, account: Account) -> None:
        """The account through the API: users, on-call rotation, two-step policy, PSA connection, chat destinations."""
        base = f"/api/v1/accounts/{account.id}"
        for person in [*account.juniors, *account.seniors]:
            body = {"email": person.email, "name": person.name, "role": person.role, "active": True}
            await self._setup_call(account.service, "PUT", f"{base}/users/{person.id}", body)
        seniors = account.seniors
        on_call = {
            "time_zone": "UTC",
            "rotations": [
                {"name": "primary", "members": [str(s.id) for s in seniors], "start": ON_CALL_START, "turn_days": 1}
            ],
            "overrides": [],
        }
        await self._setup_call(account.service, "PUT", f"{base}/on-call", on_call)
        policy = {
            "unclaimed_reminder_s": {"low": 14, "normal": 12, "high": 10},
            "max_reminders": 2,
            "stale_claim_s": account.stale_claim_s,
            "steps": [
                {"after_s": 0, "notify": ["rotation:primary"]},
                {"after_s": SECOND_STEP_S, "notify": ["all_seniors"]},
            ],
        }
        await self._setup_call(account.service, "PUT", f"{base}/escalation-policy", policy)
        receivers = self.stack.receivers
        connections = {
            "connectwise": receivers.connectwise.connection,
            "halopsa": receivers.halopsa.connection,
            "webhook": receivers.webhook.connection,
        }
        if account.psa in connections:
            connection = connections[account.psa]()
            body = {
                "provider": connection.provider,
                "base_url": connection.base_url,
                "credentials": connection.credentials,
                "enabled": True,
            }
            await self._setup_call(account.service, "PUT", f"{base}/psa", body)
        destinations = []
        for kind in account.chat_kinds:
            receiver = await self.stack.receivers.chat_destination(kind)
            account.chat[CHAT_LABELS[kind]] = receiver
            destinations.append({"kind": kind, "url": receiver.url, "label": CHAT_LABELS[kind], "enabled": True})
        if destinations:
            await self._setup_call(account.service, "PUT", f"{base}/chat", {"destinations": destinations})

    async def _setup_call(self, person: Person, method: str, path: str, body: Any) -> None:
        response = await self.api.retried(person, method, path, "setup", body)
        if response is None or response.status_code != 200:
            raise RuntimeError(f"setting up {path}: {response and response.text}")

    # --- escalations and their fates ---

    async def run(self, until: float) -> None:
        """Escalate at `rate` per second (Poisson) until `until`, then close: every pending fate acts at once."""
        while now() < until:
            await asyncio.sleep(min(self.rng.expovariate(self.rate), max(0.0, until - now())))  # pace: Poisson arrivals
            if now() >= until:
                break
            account = self.rng.choice(self.accounts)
            task = asyncio.create_task(self._noting_errors(self._escalation(account, self.rng.choice(account.juniors))))
            self._fates.add(task)
            task.add_done_callback(self._fates.discard)
        self.closing.set()
        while self._fates:
            await asyncio.gather(*self._fates)

    async def _noting_errors(self, work: Awaitable[None]) -> None:
        """An answer no client expects is noted for the checker, and the load goes on."""
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - reported in the table, with the seed
            self.errors.append(f"{type(exc).__name__}: {exc}")

    async def _escalation(self, account: Account, junior: Person) -> None:
        self._count += 1
        n = self._count
        ticket = f"#{self.rng.choice(TICKETS)}" if account.psa != "none" and self.rng.random() < 0.9 else None
        fate = self._pick(FATES)
        delay = self.rng.uniform(*self._pick(CLAIM_DELAYS))
        urgency = self.rng.choice(URGENCIES)
        session = {
            "title": f"Ticket {n}: the print spooler keeps stopping",
            "ticket_ref": ticket,
            "messages": [
                {"role": "engineer", "content": "Restarted the spooler", "kind": "step", "step_status": "failed"},
                {"role": "assistant", "content": "Check the spool folder for stuck jobs.", "kind": "message"},
            ],
        }
        created = await self.api.retried(junior, "POST", "/api/v1/ai-sessions", "create session", session)
        if created is None:
            self.lost_escalations += 1
            return
        if created.status_code != 201:
            raise RuntimeError(f"creating a session: {created.status_code} {created.text}")
        handoff_id = await self._escalate(junior, str(created.json()["id"]), urgency)
        if handoff_id is None:
            self.lost_escalations += 1
            return
        escalation = Escalation(handoff_id, account, junior, ticket, fate)
        self.escalations.append(escalation)
        await self._pause(delay)
        if fate == "withdraw":
            await self._withdraw(escalation, race=self.rng.random() < 0.5)
        else:
            await self._race(escalation)

    async def _escalate(self, junior: Person, session_id: str, urgency: str) -> str | None:
        """The handoff's id; a retry after a lost answer finds the escalation the first try made."""
        body = {"intent": "escalate", "note": "Stuck after the obvious steps", "urgency": urgency}
        path = f"/api/v1/ai-sessions/{session_id}/handoff"
        response = await self.api.retried(junior, "POST", path, "escalate", body)
        if response is None:
            return None
        if response.status_code == 201:
            return str(response.json()["id"])
        if response.json().get("code") == "session_not_active":  # an earlier try went through
            got = await self.api.retried(junior, "GET", f"/api/v1/ai-sessions/{session_id}", "read session")
            if got is not None and got.status_code == 200:
                return str(got.json()["escalation_package"]["handoff_id"])
        raise RuntimeError(f"escalating: {response.status_code} {response.text}")

    async def _race(self, escalation: Escalation) -> None:
        seniors = escalation.account.seniors
        racers = self.rng.sample(seniors, self.rng.randint(2, min(4, len(seniors))))
        double = self.rng.random() < 0.2  # someone clicks twice
        await asyncio.gather(*(self._claim(escalation, s) for s in racers + racers[:1] * double))

    async def _withdraw(self, escalation: Escalation, *, race: bool) -> None:
        path = f"/api/v1/handoffs/{escalation.handoff_id}/withdraw"
        junior = escalation.junior
        claim = [self._claim(escalation, self.rng.choice(escalation.account.seniors))] if race else []
        withdrawal = self.api.retried(junior, "POST", path, "withdraw")
        answers = await asyncio.gather(withdrawal, *claim)
        response = answers[0]
        escalation.withdrawal = self._claim_answer(escalation, junior, response)

    async def _claim(self, escalation: Escalation, senior: Person) -> None:
        """Through the API, or half the time by pressing the pick-up link of the senior's email, if one came."""
        link = self._pick_up_path(escalation, senior) if self.rng.random() < 0.5 else None
        if link is not None:

            def pressed(response: httpx.Response | None) -> None:
                self.claims.append(self._pick_up_answer(escalation, senior, response))

            await self.api.retried(None, "POST", link, "pick-up", each=pressed)
            return

        def note(response: httpx.Response | None) -> None:
            self.claims.append(self._claim_answer(escalation, senior, response))

        await self.api.retried(senior, "POST", f"/api/v1/handoffs/{escalation.handoff_id}/claim", "claim", each=note)

    def _pick_up_path(self, escalation: Escalation, senior: Person) -> str | None:
        """The path of the pick-up link in an email the senior received about the escalation, if any came yet."""
        for mail in list(self.stack.receivers.catcher.received):
            if mail.to == senior.email and str(mail.message["X-Handoff-Id"]) == escalation.handoff_id:
                for link in links_in_text(mail):
                    return path_of(link)
        return None

    @staticmethod
    def _pick_up_answer(escalation: Escalation, senior: Person, response: httpx.Response | None) -> ClaimAnswer:
        """What the page answered: 200 "It's yours" (the senior won), or 409 naming the winner, or "Withdrawn"."""
        status = None if response is None else response.status_code
        answer = ClaimAnswer(escalation.handoff_id, senior.id, status, via="email_link")
        if response is None or response.status_code >= 500:
            return answer
        page = html.unescape(response.text)
        if response.status_code == 200 and "It's yours" in page:
            answer.named = str(senior.id)
        elif response.status_code == 409:
            winner = re.search(r"Already picked up by <strong>([^<]*)</strong>", page)
            answer.code = "handoff_already_claimed" if winner else "withdrawn" if "<h1>Withdrawn</h1>" in page else "?"
            answer.winner_name = winner[1] if winner else ""
        else:
            answer.code = f"page {response.status_code}"
        return answer

    @staticmethod
    def _claim_answer(escalation: Escalation, senior: Person, response: httpx.Response | None) -> ClaimAnswer:
        if response is None or response.status_code >= 500:
            status = None if response is None else response.status_code
            return ClaimAnswer(escalation.handoff_id, senior.id, status)
        body = response.json()
        answer = ClaimAnswer(escalation.handoff_id, senior.id, response.status_code, str(body.get("code", "")))
        winner = body.get("claimed_by")
        if isinstance(winner, dict):
            answer.named = str(winner.get("id"))
            answer.named_at = str(body.get("claimed_at"))
        return answer

    async def claim_what_is_open(self) -> int:
        """After the load: the seniors claim whatever the queues still show open (a race whose every try was lost,
        or an escalation whose answer was); how many."""
        known = {e.handoff_id: e for e in self.escalations}
        claimed = 0
        for account in self.accounts:
            for item in await self._open_queue(account):
                escalation = known.get(item["id"])
                if escalation is None:  # made by a try whose answer was lost: the queue knows it all the same
                    escalation = Escalation(item["id"], account, account.juniors[0], None, "found")
                    self.escalations.append(escalation)
                    known[escalation.handoff_id] = escalation
                await self._race(escalation)
                claimed += 1
        return claimed

    async def _open_queue(self, account: Account) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            path = f"/api/v1/ai-sessions/escalations?status=open&fields=card&limit=200{cursor}"
            got = await self.api.retried(account.seniors[0], "GET", path, "queue")
            if got is None or got.status_code != 200:
                raise RuntimeError(f"reading the queue: {got and got.text}")
            page = got.json()
            items += page["items"]
            if not page["next_cursor"]:
                return items
            cursor = f"&cursor={page['next_cursor']}"

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless the load closes first: then every fate acts at once."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    def _pick(self, weighted: tuple[tuple[float, Any], ...]) -> Any:
        roll = self.rng.random()
        for weight, value in weighted:
            roll -= weight
            if roll < 0:
                return value
        return weighted[-1][1]

    # --- dashboards ---

    async def _follow(self, follower: Follower) -> None:
        """Stream from a replica; when the stream ends, resume on the other one, as a browser behind a balancer
        would, waiting a little longer after each connection that gave no event."""
        replica = self.api.replica()
        pause = 0.1
        while not follower.done:
            seen = len(follower.seen)
            with contextlib.suppress(OSError, EOFError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                await self._stream(follower, replica)
            if follower.done:
                return
            pause = 0.1 if len(follower.seen) > seen else min(2.0, pause * 2)
            await asyncio.sleep(pause * (0.5 + self.rng.random()))  # pace: a browser's reconnect backoff
            replica = self.api.replica(avoid=replica)

    async def _stream(self, follower: Follower, replica: Service) -> None:
        started = now()
        try:
            async with asyncio.timeout(30):  # as long as any other request is given
                client = await SSEClient.connect(
                    replica.port or 0, follower.senior.token, last_event_id=follower.last_id
                )
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.api.answers.append(Answer(started, now(), replica.name, "stream", None, error=type(exc).__name__))
            raise
        try:
            if client.status != 200:
                async with asyncio.timeout(5):
                    body = await client.body()
                code = body.decode(errors="replace").split('"code":"', 1)[-1].split('"', 1)[0]
                self.api.answers.append(Answer(started, now(), replica.name, "stream", client.status, code))
                return
            self.api.answers.append(Answer(started, now(), replica.name, "stream", 200))
            follower.connects += 1
            while not follower.done:
                frame = await client.next_frame(timeout=60)  # pings come every 5 s; a killed replica closes
                self._take(follower, frame)
        finally:
            await client.close()

    @staticmethod
    def _take(follower: Follower, frame: Frame) -> None:
        if frame.event == "ready":
            if follower.baseline is None:
                follower.baseline = follower.last_id = str(frame.json["last_event_id"])
            return
        if frame.event == "resync":
            follower.resyncs += 1
            follower.last_id = str(frame.json["last_event_id"])
            return
        if frame.id is None:
            return
        follower.seen.append(Seen(frame.id, frame.event or "", str(frame.json.get("handoff_id", ""))))
        follower.last_id = frame.id

    async def stop_following(self, tips: Callable[[Account], Awaitable[str]], timeout: float) -> None:
        """Once every dashboard has reached its stream's tip (or `timeout` passed), close them all."""

        async def caught_up() -> bool:
            for follower in self.followers:
                if follower.last_id != await tips(follower.account):
                    return False
            return True

        deadline = now() + timeout
        while now() < deadline and not await caught_up():
            await asyncio.sleep(0.2)  # poll interval: bounded, and the dashboards are closed either way
        for follower in self.followers:
            follower.done = True
        for task in self._follower_tasks:
            task.cancel()
        await asyncio.gather(*self._follower_tasks, return_exceptions=True)
