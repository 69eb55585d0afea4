"""What routes get from the application, as typed FastAPI dependencies.

``create_app`` builds each of these once and keeps it on ``app.state``; a route declares the
ones it needs (``jobs: Jobs``) instead of reaching for module-level globals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from twin.convert.imports import ImportRunner
from twin.ensembles.jobs import EnsembleRunner
from twin.nowcast.service import NowcastService
from twin.scenarios.jobs import JobRunner
from twin.server.cities import CityRegistry
from twin.server.event_feed import EventFeed
from twin.server.hazard_maps import HazardMaps
from twin.server.open_data import OpenData
from twin.server.settings import Settings
from twin.store.audit import AuditLog
from twin.store.database import Store
from twin.store.users import Users


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _store(request: Request) -> Store:
    return request.app.state.store


def _users(request: Request) -> Users:
    return request.app.state.users


def _audit(request: Request) -> AuditLog:
    return request.app.state.audit


def _event_feed(request: Request) -> EventFeed:
    return request.app.state.event_feed


def _cities(request: Request) -> CityRegistry:
    return request.app.state.cities


def _jobs(request: Request) -> JobRunner:
    return request.app.state.jobs


def _imports(request: Request) -> ImportRunner:
    return request.app.state.imports


def _hazard_maps(request: Request) -> HazardMaps:
    return request.app.state.hazard_maps


def _nowcasts(request: Request) -> NowcastService:
    return request.app.state.nowcasts


def _ensembles(request: Request) -> EnsembleRunner:
    return request.app.state.ensembles


def _open_data(request: Request) -> OpenData:
    return request.app.state.open_data


AppSettings = Annotated[Settings, Depends(_settings)]
Database = Annotated[Store, Depends(_store)]
Accounts = Annotated[Users, Depends(_users)]
Audit = Annotated[AuditLog, Depends(_audit)]
Feed = Annotated[EventFeed, Depends(_event_feed)]
Cities = Annotated[CityRegistry, Depends(_cities)]
Jobs = Annotated[JobRunner, Depends(_jobs)]
Imports = Annotated[ImportRunner, Depends(_imports)]
HazardMapCache = Annotated[HazardMaps, Depends(_hazard_maps)]
Nowcasts = Annotated[NowcastService, Depends(_nowcasts)]
Ensembles = Annotated[EnsembleRunner, Depends(_ensembles)]
Published = Annotated[OpenData, Depends(_open_data)]
