"""``/api/me``: who the presented API key belongs to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from twin.server.auth import KEY_ROLES, requires
from twin.store.apikeys import KeyInfo

router = APIRouter(prefix="/api", tags=["keys"])


class Me(BaseModel):
    name: str
    role: str


@router.get("/me", response_model=Me)
def me(key: Annotated[KeyInfo, requires(*KEY_ROLES)]) -> Me:
    """The name and role of the key sent as ``Authorization: Bearer <key>``."""
    return Me(name=key.name, role=key.role)
