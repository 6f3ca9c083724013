"""The demo account `handoff dev` seeds: a few seniors, a junior with sessions, a viewer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth.principal import Principal
from shared.db.uow import unit_of_work
from shared.directory.schemas import DirectoryRole, UserPut
from shared.directory.service import put_user
from shared.sessions.schemas import MessageIn, SessionCreate
from shared.sessions.service import create_session
from shared.sessions.tables import AISession

DEMO_ACCOUNT = uuid.UUID("00000000-0000-4000-a000-000000000001")


@dataclass(frozen=True)
class DemoUser:
    id: uuid.UUID
    name: str
    email: str
    role: DirectoryRole
    blurb: str


DEMO_USERS = (
    DemoUser(
        uuid.UUID("00000000-0000-4000-b000-000000000001"),
        "Jamie Junior",
        "jamie@demo-msp.test",
        "engineer",
        "junior engineer: escalates",
    ),
    DemoUser(
        uuid.UUID("00000000-0000-4000-b000-000000000002"),
        "Sam Senior",
        "sam@demo-msp.test",
        "engineer",
        "senior engineer: claims",
    ),
    DemoUser(
        uuid.UUID("00000000-0000-4000-b000-000000000003"),
        "Riley Lead",
        "riley@demo-msp.test",
        "admin",
        "team lead (admin): claims",
    ),
    DemoUser(
        uuid.UUID("00000000-0000-4000-b000-000000000004"), "Olivia Owner", "olivia@demo-msp.test", "owner", "owner"
    ),
    DemoUser(
        uuid.UUID("00000000-0000-4000-b000-000000000005"),
        "Val Viewer",
        "val@demo-msp.test",
        "viewer",
        "viewer: read only",
    ),
)

DEMO_SESSIONS = (
    SessionCreate(
        title="Outlook keeps prompting for password after M365 migration",
        ticket_ref="48213",
        context={"client": "Contoso Dental", "device": "LAPTOP-114", "os": "Windows 11 23H2"},
        messages=[
            MessageIn(
                role="engineer",
                content="User gets a password prompt in Outlook every few minutes since Friday's tenant migration.",
            ),
            MessageIn(
                role="assistant", content="Let's check the credential manager and modern authentication settings."
            ),
            MessageIn(
                role="engineer",
                content="Cleared cached credentials in Credential Manager",
                kind="step",
                step_status="done",
            ),
            MessageIn(role="engineer", content="Recreated the Outlook profile", kind="step", step_status="failed"),
        ],
    ),
    SessionCreate(
        title="Branch office VPN tunnel drops every hour",
        ticket_ref="48230",
        context={"client": "Northwind Legal", "firewall": "FortiGate 60F", "site": "Leeds"},
        messages=[
            MessageIn(
                role="engineer",
                content="Site-to-site IPsec tunnel to Leeds drops about every 60 minutes, back after 2-3 minutes.",
            ),
            MessageIn(role="engineer", content="Rebooted the branch firewall", kind="step", step_status="done"),
        ],
    ),
)


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[DemoUser, ...]:
    """Create the demo account, its users and the junior's sessions; running it again changes nothing."""
    service = Principal(user_id=uuid.uuid4(), account_id=None, role="service", name="demo seed")
    async with unit_of_work(sessionmaker) as db:
        for user in DEMO_USERS:
            body = UserPut(email=user.email, name=user.name, role=user.role, active=True)
            await put_user(db, service, DEMO_ACCOUNT, user.id, body)
    junior = DEMO_USERS[0]
    as_junior = Principal(
        user_id=junior.id, account_id=DEMO_ACCOUNT, role="engineer", name=junior.name, email=junior.email
    )
    async with unit_of_work(sessionmaker) as db:
        existing = (await db.execute(select(AISession.id).where(AISession.account_id == DEMO_ACCOUNT).limit(1))).first()
        if existing is None:
            for session in DEMO_SESSIONS:
                await create_session(db, as_junior, session)
    return DEMO_USERS
