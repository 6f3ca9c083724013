"""How arq jobs and their results are written to Redis: JSON, never pickle.

arq pickles by default, so anyone who can write to Redis could run code in every worker. Every
producer (our enqueue script, arq's own pool) and every consumer (the workers) uses this codec.

A job of the pickle format left in Redis by an older version is refused, not read: arq logs the
failure, records the job as failed and goes on with the next one. Nothing is lost by dropping it:
the database still says what is pending, and the sweeper queues that work again in the new format.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Every pickle since protocol 2 starts with the PROTO opcode.
_PICKLE_PROTO = 0x80


class UnwritableJob(TypeError):
    """A job whose arguments JSON cannot hold; refused when it is queued, by either queue."""


class UnreadableJob(ValueError):
    """Bytes in Redis that are not a job in our format (for one, a pickled job of an older version)."""


def _describe(value: object) -> object:
    # A failed job's result is the exception arq caught: kept as its name and message, and its cause's.
    if isinstance(value, BaseException):
        cause = f" ({value.__cause__})" if value.__cause__ is not None else ""
        return f"{type(value).__name__}: {value}{cause}"
    raise TypeError(f"a job holds a {type(value).__name__}, which has no JSON form")


_encoder = msgspec.json.Encoder(enc_hook=_describe)
_decoder = msgspec.json.Decoder(dict[str, Any])


def serialize_job_data(data: dict[str, Any]) -> bytes:
    """arq's job or result record as JSON; arguments that JSON cannot hold are refused (arq raises)."""
    return _encoder.encode(data)


def deserialize_job_data(raw: bytes) -> dict[str, Any]:
    """A job or result record read back; arq turns the error of anything else into a failed job."""
    if raw[:1] == bytes([_PICKLE_PROTO]):
        raise UnreadableJob("a pickled job, left by an older version: dropped; the sweeper queues its work again")
    try:
        data = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise UnreadableJob(f"not a job in JSON: {exc}") from exc
    if isinstance(data.get("a"), list):
        data["a"] = tuple(data["a"])  # arq's positional arguments, a tuple when they were written
    return data


def json_round_trip(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as a worker would get it back from Redis (ids and times become strings)."""
    try:
        return msgspec.json.decode(msgspec.json.encode(payload), type=dict[str, Any])
    except (TypeError, msgspec.EncodeError) as exc:
        raise UnwritableJob(f"a job's arguments must be JSON: {exc}") from exc


# Keyword arguments for arq's Worker, ArqRedis and create_pool.
JOB_CODEC: dict[str, Any] = {"job_serializer": serialize_job_data, "job_deserializer": deserialize_job_data}
