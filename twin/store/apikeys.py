"""API keys: created once in plain text, stored only as salted argon2 hashes, revocable.

A key reads ``twin_<id>_<secret>``: the public ``id`` finds the row, the whole key is
checked against its argon2 hash. Verified keys are remembered in memory by their SHA-256
so argon2 (deliberately slow) runs once per key per process; the row is still read on
every request (by :meth:`ApiKeys.verify`, or by :func:`live_ids` in the transaction of the
write it allows), so a revocation takes effect at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pwdlib import PasswordHash
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from twin.errors import TwinInputError
from twin.store.database import Store
from twin.store.models import ApiKey

_KEY = re.compile(r"^twin_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHash.recommended()


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret or hash."""

    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


class ApiKeys:
    """Create, list, revoke and verify the keys in one store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._verified: dict[bytes, KeyInfo] = {}  # sha256(key) → the key, as first verified

    def create(self, name: str, role: str, expires_at: datetime | None = None) -> str:
        """A new key for ``name`` (refused after ``expires_at`` if given); the only time its plain text exists."""
        if not _NAME.match(name):
            raise TwinInputError(f"key name {name!r}: use 1–100 letters, digits, '.', '_', '@' or '-'")
        key_id = secrets.token_hex(6)
        key = f"twin_{key_id}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=key_id, name=name, role=role, key_hash=_hasher.hash(key),
                     created_at=datetime.now(UTC), expires_at=expires_at)
        try:
            with self._store.session.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise TwinInputError(f"a key named {name!r} exists already (revoke it first)") from exc
        return key

    def list(self) -> list[KeyInfo]:
        with self._store.session() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
            return [_info(row) for row in rows]

    def revoke(self, name: str) -> KeyInfo:
        """Revoke the key called ``name`` (revoking twice keeps the first time)."""
        with self._store.session.begin() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == name))
            if row is None:
                raise TwinInputError(f"no key named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            return _info(row)

    def verify(self, key: str) -> KeyInfo | None:
        """The live key that ``key`` is, or None (unknown, malformed, wrong secret or revoked)."""
        match = _KEY.match(key)
        if match is None:
            return None
        with self._store.session() as session:
            row = session.get(ApiKey, match.group(1))
            if row is None or row.revoked_at is not None or _expired(row):
                return None
            digest = hashlib.sha256(key.encode()).digest()
            known = self._verified.get(digest)
            if known is None or known.id != row.id:
                if not _hasher.verify(key, row.key_hash):
                    return None
                self._verified[digest] = _info(row)
            return _info(row)

    def verified_before(self, key: str) -> KeyInfo | None:
        """The key ``key`` is, if :meth:`verify` accepted it before (no database read: the caller
        must still check :func:`live_ids` in its transaction); None if it never did."""
        if len(key) > 128:
            return None
        return self._verified.get(hashlib.sha256(key.encode()).digest())


_LIVE = select(ApiKey.id, ApiKey.expires_at).where(ApiKey.id.in_(bindparam("ids", expanding=True)),
                                                   ApiKey.revoked_at.is_(None))


def live_ids(session: Session, ids: set[str]) -> set[str]:
    """Which of the key ``ids`` exist and are neither revoked nor expired now."""
    now = datetime.now(UTC)
    rows = session.connection().execute(_LIVE, {"ids": list(ids)})
    return {id_ for id_, expires in rows if expires is None or _utc(expires) > now}


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.role, _utc(row.created_at), _utc(row.revoked_at), _utc(row.expires_at))


def _expired(row: ApiKey) -> bool:
    return row.expires_at is not None and _utc(row.expires_at) <= datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite keeps no zone: the store writes UTC, so naive values read back are UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
