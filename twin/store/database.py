"""Engine, sessions and schema migrations for SQLite (WAL, the default) or any SQLAlchemy URL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class Store:
    """An engine at the newest schema and a session factory on it."""

    engine: Engine
    session: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def sqlite_url(data_dir: Path) -> str:
    """The default database: ``DIR/twin.db``."""
    return f"sqlite:///{(data_dir / 'twin.db').resolve()}"


def open_store(url: str) -> Store:
    """Connect to ``url`` and bring its schema to the newest migration.

    A server must fail (503) rather than start over when its database goes away: pooled
    PostgreSQL connections are pinged before use, and after the migrations a SQLite file is
    reopened read-write only, so a missing file is an error instead of a new empty database.
    """
    engine = _engine(make_url(url))
    upgrade(engine)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        engine.dispose()
        engine = _engine(engine.url.set(database=f"file:{quote(engine.url.database)}",
                                        query={**engine.url.query, "mode": "rw", "uri": "true"}))
    return Store(engine, sessionmaker(engine, expire_on_commit=False))


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision`` (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers run while a writer commits; busy_timeout waits instead of failing;
    # synchronous=FULL syncs the WAL on every commit, so an acknowledged write survives a crash.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
