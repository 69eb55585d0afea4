"""Persistent state of the server (API keys now; sensors later): SQLAlchemy 2 + Alembic."""

from twin.store.database import Store, open_store

__all__ = ["Store", "open_store"]
