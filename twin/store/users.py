"""Operators who sign in with a password and a TOTP second factor (RFC 6238), and their sessions.

Passwords are stored as salted argon2 hashes (pwdlib). A TOTP code is accepted once: the
user row keeps the last accepted time step, so the same code (or an older one) replayed
within its 30 s window is refused. Repeated failures lock the account with an exponential
backoff (OWASP Authentication Cheat Sheet, "account lockout"). A session is a random
token in a cookie; only its SHA-256 is stored, next to the CSRF token the page must echo.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from pwdlib import PasswordHash
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from twin.errors import TwinInputError
from twin.store.database import Store
from twin.store.models import User, UserSession

USER_ROLES = ("staff", "admin")
ISSUER = "machi-twin"
#: Failures allowed before the first lockout; each further failure doubles it, up to a day.
FREE_FAILURES = 5
FIRST_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(days=1)
MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHash.recommended()
#: Compared against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInError(Exception):
    """A refused sign-in; ``retry_after`` (seconds) is set when the account is locked."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UserInfo:
    """What may be shown about an operator: never the password hash or TOTP secret."""

    id: int
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class NewUser:
    """A created operator and the TOTP secret to put in an authenticator app (shown once)."""

    user: UserInfo
    totp_secret: str
    provisioning_uri: str


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie value and the CSRF token (both shown only now)."""

    user: UserInfo
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionInfo:
    """A live session looked up by its cookie."""

    user: UserInfo
    csrf_token: str
    expires_at: datetime


class Users:
    """Create operators, check sign-ins, and keep their sessions in one store."""

    def __init__(self, store: Store, session_lifetime: timedelta = timedelta(hours=8)) -> None:
        self._store = store
        self.session_lifetime = session_lifetime

    def create(self, name: str, role: str, password: str) -> NewUser:
        """A new operator; the TOTP secret exists in plain text in the database and in this answer only."""
        if not _NAME.match(name):
            raise TwinInputError(f"user name {name!r}: use 1–100 letters, digits, '.', '_', '@' or '-'")
        if role not in USER_ROLES:
            raise TwinInputError(f"role {role!r}: operators are one of {', '.join(USER_ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise TwinInputError(f"the password needs at least {MIN_PASSWORD} characters")
        secret = pyotp.random_base32()
        row = User(name=name, role=role, password_hash=_hasher.hash(password), totp_secret=secret,
                   totp_last_step=0, failed_signins=0, created_at=datetime.now(UTC))
        try:
            with self._store.session.begin() as session:
                session.add(row)
        except IntegrityError as exc:
            raise TwinInputError(f"a user named {name!r} exists already") from exc
        uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)
        return NewUser(_info(row), secret, uri)

    def list(self) -> list[UserInfo]:
        with self._store.session() as session:
            return [_info(row) for row in session.scalars(select(User).order_by(User.id))]

    def disable(self, name: str) -> UserInfo:
        """Disable an operator and end their sessions at once."""
        with self._store.session.begin() as session:
            row = session.scalar(select(User).where(User.name == name))
            if row is None:
                raise TwinInputError(f"no user named {name!r}")
            row.disabled_at = row.disabled_at or datetime.now(UTC)
            session.execute(delete(UserSession).where(UserSession.user_id == row.id))
            return _info(row)

    def sign_in(self, name: str, password: str, code: str, now: datetime | None = None) -> SignedIn:
        """A new session if the password and an unused TOTP code are right; else :class:`SignInError`."""
        now = now or datetime.now(UTC)
        with self._store.session.begin() as session:  # the failure count commits before the refusal
            row = session.scalar(select(User).where(User.name == name).with_for_update())
            if row is None or row.disabled_at is not None:
                _hasher.verify(password, _DUMMY_HASH)
                refusal = SignInError("wrong name, password or code")
            elif row.locked_until is not None and row.locked_until > now:
                refusal = SignInError("too many failed sign-ins; the account is locked for now",
                                      retry_after=max(1, int((row.locked_until - now).total_seconds() + 0.999)))
            else:
                step = _accepted_step(row.totp_secret, code, now)
                if not _hasher.verify(password, row.password_hash) or step is None or step <= row.totp_last_step:
                    row.failed_signins += 1
                    row.locked_until = _lockout(row.failed_signins, now)
                    refusal = SignInError("wrong name, password or code")
                else:
                    refusal = None
                    row.failed_signins, row.locked_until, row.totp_last_step = 0, None, step
                    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
                    expires = now + self.session_lifetime
                    session.add(UserSession(token_hash=_digest(token), user_id=row.id, csrf_token=csrf,
                                            created_at=now, expires_at=expires))
                    session.execute(delete(UserSession).where(UserSession.expires_at <= now))
                    user = _info(row)
        if refusal is not None:
            raise refusal
        return SignedIn(user, token, csrf, expires)

    def session(self, token: str) -> SessionInfo | None:
        """The live session whose cookie is ``token``, or None (unknown, expired, user disabled)."""
        with self._store.session() as session:
            found = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                                    .where(UserSession.token_hash == _digest(token))).first()
            if found is None:
                return None
            live, user = found
            if live.expires_at <= datetime.now(UTC) or user.disabled_at is not None:
                return None
            return SessionInfo(_info(user), live.csrf_token, live.expires_at)

    def sign_out(self, token: str) -> None:
        with self._store.session.begin() as session:
            session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))


def _accepted_step(secret: str, code: str, now: datetime) -> int | None:
    """The TOTP time step ``code`` belongs to (now or one step either side, for clock drift), or None."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _lockout(failures: int, now: datetime) -> datetime | None:
    if failures < FREE_FAILURES:
        return None
    return now + min(FIRST_LOCKOUT * 2 ** min(failures - FREE_FAILURES, 16), MAX_LOCKOUT)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: User) -> UserInfo:
    return UserInfo(row.id, row.name, row.role, row.created_at, row.disabled_at)
