"""Which adapter posts a PSA note for a provider."""

from __future__ import annotations

from services.notifier.psa.autotask import AutotaskAdapter
from services.notifier.psa.base import PSAAdapter, PSAError
from services.notifier.psa.connectwise import ConnectWiseAdapter
from services.notifier.psa.halopsa import HaloPSAAdapter

# One instance per provider for the process, so HaloPSA's token cache outlives a single push.
_ADAPTERS: dict[str, PSAAdapter] = {
    adapter.provider: adapter for adapter in (ConnectWiseAdapter(), AutotaskAdapter(), HaloPSAAdapter())
}

PROVIDERS = frozenset(_ADAPTERS)


def adapter_for(provider: str) -> PSAAdapter:
    """The adapter for `provider`; an unknown provider is a non-transient PSAError."""
    try:
        return _ADAPTERS[provider]
    except KeyError:
        raise PSAError(f"no PSA adapter for provider {provider[:40]!r}", transient=False) from None
