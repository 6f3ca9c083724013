"""SQL aggregates both databases read the same way."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet `condition`: 0, never NULL, for a group with none."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
