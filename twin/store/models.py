"""Tables of the store. Every change here needs a migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


class ApiKey(Base):
    """An API key: its public id, who holds it, their role and a salted hash of the secret."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: After this moment the key is refused (None: never expires).
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- sensors: OGC SensorThings entities, alert state and the live event log -----------------

from datetime import UTC  # noqa: E402  (sensor tables appended below the API keys)
from typing import Any  # noqa: E402

from sqlalchemy import (  # noqa: E402
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment stored as naive UTC (same text on SQLite and PostgreSQL), read back zone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a moment without a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


thing_locations = Table(
    "sta_thing_locations", Base.metadata,
    Column("thing_id", ForeignKey("sta_things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
)

historical_location_locations = Table(
    "sta_historical_location_locations", Base.metadata,
    Column("historical_location_id", ForeignKey("sta_historical_locations.id", ondelete="CASCADE"),
           primary_key=True),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
)


class Thing(Base):
    """A SensorThings Thing: a gauge, a rain station, a people counter."""

    __tablename__ = "sta_things"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    owner_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), default=None)


class Location(Base):
    """Where a Thing is: GeoJSON in ``location`` (lon/lat)."""

    __tablename__ = "sta_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100), default="application/geo+json")
    location: Mapped[dict[str, Any]] = mapped_column(JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class HistoricalLocation(Base):
    """When a Thing was at its Locations."""

    __tablename__ = "sta_historical_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime)


class Sensor(Base):
    """The instrument behind a Datastream."""

    __tablename__ = "sta_sensors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100), default="text/plain")
    metadata_: Mapped[str] = mapped_column("metadata", Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class ObservedProperty(Base):
    """What is measured; ``properties.range = [min, max]`` bounds accepted results."""

    __tablename__ = "sta_observed_properties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Datastream(Base):
    """A time series of one Thing, Sensor and ObservedProperty; ``properties.thresholds`` drive alerts."""

    __tablename__ = "sta_datastreams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_of_measurement: Mapped[dict[str, Any]] = mapped_column(JSON)
    observation_type: Mapped[str] = mapped_column(String(200))
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensors.id"), index=True)
    observed_property_id: Mapped[int] = mapped_column(ForeignKey("sta_observed_properties.id"), index=True)
    #: The key that may write it (``sensor`` keys write only their own); admin keys write all.
    owner_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), default=None, index=True)


class FeatureOfInterest(Base):
    """The feature an Observation is about (by default its Thing's Location)."""

    __tablename__ = "sta_features_of_interest"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(100), default="application/geo+json")
    feature: Mapped[dict[str, Any]] = mapped_column(JSON)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Observation(Base):
    """One value; (datastream, phenomenon_time) is unique so a re-sent value is not stored twice.

    The unique constraint's index is also the (datastream, time) index every time query uses.
    """

    __tablename__ = "sta_observations"
    __table_args__ = (
        UniqueConstraint("datastream_id", "phenomenon_time", name="uq_observation_datastream_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    datastream_id: Mapped[int] = mapped_column(ForeignKey("sta_datastreams.id", ondelete="CASCADE"))
    phenomenon_time: Mapped[datetime] = mapped_column(UTCDateTime)
    #: End of an interval phenomenonTime (people counted from ``phenomenon_time`` to here).
    phenomenon_end: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    result_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    result_number: Mapped[float | None] = mapped_column(Float, default=None)
    result_json: Mapped[Any] = mapped_column(JSON, default=None)
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    feature_of_interest_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_features_of_interest.id"), default=None, index=True)


class AlertState(Base):
    """The current alert level (0–4) of a Datastream with thresholds."""

    __tablename__ = "sensor_alert_states"

    datastream_id: Mapped[int] = mapped_column(ForeignKey("sta_datastreams.id", ondelete="CASCADE"),
                                               primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    phenomenon_time: Mapped[datetime] = mapped_column(UTCDateTime)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class SensorEvent(Base):
    """The live log behind ``/api/stream``: ids only grow, old rows are pruned to a bound."""

    __tablename__ = "sensor_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    public: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)



# --- access control: operators who sign in, their sessions, and the append-only audit log -----


class User(Base):
    """An operator (staff or admin) who signs in to the viewer with a password and a TOTP code."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(String(64))
    #: The last TOTP time step accepted: a code of this step or older is a replay.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_signins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class UserSession(Base):
    """A signed-in session: only the SHA-256 of its cookie is stored, with its CSRF token."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One line of the audit log (a write, a sign-in or a denied request); never updated or deleted."""

    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(500), default="")
