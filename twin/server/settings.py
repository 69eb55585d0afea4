"""Server settings from arguments or ``TWIN_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from twin.store.database import sqlite_url

VIEWER_DIR = Path(__file__).resolve().parents[2] / "viewer"


class Settings(BaseSettings):
    """Where the data is, which database, and what the viewer may load."""

    model_config = SettingsConfigDict(env_prefix="TWIN_")

    data_dir: Path = Path("data")
    #: SQLAlchemy URL; default ``sqlite:///DIR/twin.db``.
    database_url: str | None = None
    #: XYZ imagery template such as ``https://tile.example/{z}/{x}/{y}.png``; off by default.
    imagery_url: str | None = None
    imagery_credit: str = ""
    viewer_dir: Path = VIEWER_DIR

    @field_validator("imagery_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("TWIN_IMAGERY_URL must be an http(s) URL template")
        return value or None

    @property
    def database(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def cesium_dir(self) -> Path:
        return self.viewer_dir / "node_modules" / "cesium" / "Build" / "Cesium"

    @property
    def imagery_origin(self) -> str | None:
        """``scheme://host[:port]`` of the imagery server, for the CSP."""
        if not self.imagery_url:
            return None
        parts = urlsplit(self.imagery_url)
        return f"{parts.scheme}://{parts.netloc}"
