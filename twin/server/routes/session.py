"""``/api/session``: operators sign in with a password and a TOTP code, and sign out.

The session lives in an HttpOnly cookie (``Secure`` when the request came over TLS,
``SameSite=Strict``); the CSRF token comes back in the answer and in a readable cookie for
the page to echo in ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from twin.server.app_state import Accounts
from twin.server.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Caller,
    Role,
    SessionUser,
    requires,
)
from twin.server.problems import Problem
from twin.store.users import SignInError

router = APIRouter(prefix="/api/session", tags=["session"])


class SignIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=6, max_length=6, description="The 6-digit TOTP code of the authenticator app")


class Session(BaseModel):
    name: str
    role: str
    csrf_token: str = Field(description="Send it in X-CSRF-Token on writes made with the session cookie")
    expires_at: datetime


@router.post("", response_model=Session, dependencies=[requires(Role.ANONYMOUS)],
             responses={401: {"description": "wrong name, password or code, or a code used before"},
                        429: {"description": "locked after repeated failures, or rate-limited"}})
async def sign_in(body: SignIn, request: Request, response: Response, users: Accounts) -> Session:
    """Sign in: sets the session cookie (HttpOnly, SameSite=Strict, Secure over TLS)."""
    request.state.actor = f"user:{body.name}"
    try:
        signed = await run_in_threadpool(users.sign_in, body.name, body.password, body.code)
    except SignInError as exc:
        request.state.audit_detail = str(exc)
        if exc.retry_after is not None:
            raise Problem(429, f"{exc}.", "locked", headers={"Retry-After": str(exc.retry_after)}) from None
        raise Problem(401, "Wrong name, password or code (a code works only once).", "signin-failed") from None
    request.state.role = signed.user.role
    secure = request.url.scheme == "https"
    max_age = int(users.session_lifetime.total_seconds())
    response.set_cookie(SESSION_COOKIE, signed.token, max_age=max_age, httponly=True, secure=secure,
                        samesite="strict", path="/")
    response.set_cookie(CSRF_COOKIE, signed.csrf_token, max_age=max_age, httponly=False, secure=secure,
                        samesite="strict", path="/")
    response.headers["Cache-Control"] = "no-store"
    return Session(name=signed.user.name, role=signed.user.role, csrf_token=signed.csrf_token,
                   expires_at=signed.expires_at)


@router.delete("", status_code=204)
def sign_out(caller: Annotated[Caller, requires(Role.STAFF)], request: Request, response: Response,
             users: Accounts) -> None:
    """End the session of the cookie sent (a bearer-key caller has none; nothing happens)."""
    if isinstance(caller, SessionUser):
        users.sign_out(request.cookies[SESSION_COOKIE])
    secure = request.url.scheme == "https"
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, secure=secure, httponly=name == SESSION_COOKIE, samesite="strict", path="/")
