"""Long-running loops a process owns (the outbox relay, the sweeper): stopped by asking, cancelled only if deaf."""

from __future__ import annotations

import asyncio


async def finish(task: asyncio.Task[None], *, grace_s: float = 10.0) -> None:
    """Wait for a task that was asked to stop; cancel it only if it has not finished within `grace_s`.

    Asking first matters: a cancelled Redis or database call can leave its connection in a bad state.
    """
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=2)
