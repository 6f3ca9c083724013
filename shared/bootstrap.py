"""The composition root: builds the database, bus and job infrastructure a process runs on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.db.engine import create_engine, create_sessionmaker

ReadinessProbe = Callable[[], Awaitable[bool]]


@dataclass
class Runtime:
    """Everything long-lived a process holds; started once, stopped once."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    readiness_probes: dict[str, ReadinessProbe] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        return cls(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine))

    async def start(self) -> None:
        """Start background work (nothing yet beyond the connection pool, which is lazy)."""

    async def stop(self) -> None:
        await self.engine.dispose()
