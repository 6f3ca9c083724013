"""How each channel is sent: the notifier's half of its registration (shared/channels.py holds the other)."""

from __future__ import annotations

from services.notifier.channels.base import ChannelError, ConnectionChannel
from services.notifier.channels.psa_note import PSANoteChannel
from services.notifier.channels.webhook import WebhookChannel

# One instance per channel for the process, so a vendor's token cache outlives a single push.
_PSA_NOTE = PSANoteChannel()
_WEBHOOK = WebhookChannel()

# The channel each provider of an account's connection feeds.
_BY_PROVIDER: dict[str, ConnectionChannel] = {
    **{provider: _PSA_NOTE for provider in _PSA_NOTE.providers},
    _WEBHOOK.provider: _WEBHOOK,
}
PROVIDERS = frozenset(_BY_PROVIDER)


def connection_channel(provider: str) -> ConnectionChannel:
    """The channel a connection of `provider` feeds; an unknown provider is a non-transient ChannelError."""
    channel = _BY_PROVIDER.get(provider)
    if channel is None:
        raise ChannelError(f"no channel for provider {provider[:40]!r}", transient=False)
    return channel
