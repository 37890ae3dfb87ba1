"""Bulk creation of users, for imports and seeding.

Two strategies, because they trade differently:

- ``"core"``: one ``INSERT`` executed with many parameter sets
  (``executemany``): fastest, but no ORM events and no objects back.
- ``"orm"``: ``Session.add_all`` and one flush through the unit of work:
  slower, but objects come back with their ids and ORM events fire.

Both write all rows in one transaction, so a failure leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from .models import User, utcnow

METHODS = ("core", "orm")
FIELDS = ("username", "email", "password_hash")


def _rows(records: Iterable[Mapping[str, object]]) -> list[dict]:
    now = utcnow()
    rows = []
    for record in records:
        missing = [f for f in FIELDS if not record.get(f)]
        if missing:
            raise ValueError(f"record {len(rows) + 1} lacks {', '.join(missing)}")
        created = record.get("created_at") or now
        if not isinstance(created, datetime):
            raise ValueError(f"record {len(rows) + 1}: created_at must be a datetime")
        rows.append(
            {
                "username": record["username"],
                "email": record["email"],
                "password_hash": record["password_hash"],
                "created_at": created,
                "is_active": bool(record.get("is_active", True)),
            }
        )
    return rows


def bulk_create_users(session: Session, records: Iterable[Mapping[str, object]], method: str = "core") -> int:
    """Insert ``records`` as users in one transaction; return how many."""
    if method not in METHODS:
        raise ValueError(f"unknown bulk method {method!r}; choose one of {', '.join(METHODS)}")
    rows = _rows(records)
    if not rows:
        return 0
    try:
        if method == "core":
            session.execute(insert(User), rows)
        else:
            session.add_all([User(**row) for row in rows])
            session.flush()
        session.commit()
    except Exception:
        session.rollback()
        raise
    return len(rows)
