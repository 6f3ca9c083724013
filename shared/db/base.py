"""The declarative base every table of the service is mapped on, with the schema's naming rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, MetaData, Table
from sqlalchemy.orm import DeclarativeBase

from shared.db.types import JSONDocument, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument}


def table_of(model: type[Base]) -> Table:
    """The mapped class's table. A statement on its columns (`table_of(Row).c.x`, not `Row.x`) is plain Core: it skips
    the ORM's compile and result steps, about a third of a statement's CPU here, so the hot paths' reads use it."""
    return cast(Table, model.__table__)
