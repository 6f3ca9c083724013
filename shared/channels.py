"""The channels a senior is reached by, as every process must know them: row names and the jobs that send them.

How a channel sends lives in the notifier; what is here lets the escalation write its jobs, the composition
root route them to the notifier's queue and the sweeper tell which job finishes which rows. A channel
registers once, at the bottom of this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str  # the delivery rows' `channel`
    job: str  # the notifier job that writes the rows of an escalation and sends them
    per_senior: bool = False  # one row per senior to page: an escalation with none gets no rows at all
    # One row per chat destination of the account: an escalation made while it had none enabled gets no rows.
    per_destination: bool = False


_CHANNELS: dict[str, ChannelSpec] = {}


def register_channel(spec: ChannelSpec) -> ChannelSpec:
    """Make `spec` known."""
    assert spec.name not in _CHANNELS, f"channel {spec.name!r} registered twice"
    _CHANNELS[spec.name] = spec
    return spec


def channel_names() -> tuple[str, ...]:
    return tuple(_CHANNELS)


def channel_jobs() -> tuple[str, ...]:
    """The jobs that send channels, each once, in the order their channels registered."""
    return tuple(dict.fromkeys(spec.job for spec in _CHANNELS.values()))


def channels_sent_by(job: str) -> tuple[ChannelSpec, ...]:
    return tuple(spec for spec in _CHANNELS.values() if spec.job == job)


def job_sending(channel: str) -> str:
    """The job that sends rows of `channel`."""
    return _CHANNELS[channel].job


def round_job_id(job: str, handoff_id: object, round: int) -> str:
    """`{job}:{handoff_id}` for the escalation's own notice, `{job}:{handoff_id}:{round}` for a later round."""
    return f"{job}:{handoff_id}" if round == 0 else f"{job}:{handoff_id}:{round}"


EMAIL = register_channel(ChannelSpec("email", job="notify", per_senior=True))
PSA = register_channel(ChannelSpec("psa", job="psa_push"))
WEBHOOK = register_channel(ChannelSpec("webhook", job="psa_push"))
TEAMS = register_channel(ChannelSpec("teams", job="chat_post", per_destination=True))
SLACK = register_channel(ChannelSpec("slack", job="chat_post", per_destination=True))
CHAT_CHANNELS = (TEAMS.name, SLACK.name)
