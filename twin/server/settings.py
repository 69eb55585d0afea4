"""Server settings from arguments or ``TWIN_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
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
    #: Largest request body (any route, chunked included), bytes; larger ones get 413.
    max_body_bytes: int = Field(16 << 20, gt=0)
    #: Writes per second per key/user and per client IP (0 = no limit), and the burst allowed.
    write_rate: float = Field(1000.0, ge=0)
    write_burst: int = Field(2000, ge=1)
    #: Expensive routes (``METHOD /path`` as in OpenAPI): per key/user and per IP, per minute.
    expensive_per_minute: float = Field(10.0, ge=0)
    expensive_burst: int = Field(5, ge=1)
    expensive_routes: list[str] = ["POST /api/scenarios", "POST /api/session"]
    #: Origins allowed to call the API from other sites (CORS); none by default.
    cors_origins: list[str] = []
    #: How long an operator's sign-in lasts, hours.
    session_hours: float = Field(8.0, gt=0, le=24 * 7)
    #: Footfall for the public: cells counting fewer people are withheld, and so are areas
    #: with fewer counters (one counter's area series would be that device's series).
    footfall_k: int = Field(10, ge=1)
    footfall_min_counters: int = Field(2, ge=1)
    #: Run the nowcast's cycles in the background (``twin.nowcast.service``).
    nowcast: bool = True
    #: Retention (docs/data-policy.md): days raw sensor observations are kept, days audit entries are
    #: kept (the database refuses fewer than 30), and seconds between two prunings.
    sensor_retention_days: int = Field(400, ge=1)
    audit_retention_days: int = Field(365, ge=30)
    retention_interval_s: float = Field(3600.0, gt=0)
    #: The open-data catalogue's title and publisher (``/catalog``, the CKAN API).
    catalog_title: str = "machi-twin オープンデータカタログ"
    catalog_publisher: str = "machi-twin"
    #: Who answers questions about the data: an e-mail address or a URL (the catalogue's contact point).
    catalog_contact: str = ""
    #: Ensemble members (``/api/ensembles``): local dask worker processes (0: one after the other in the
    #: job's thread), or a scheduler address (``tcp://host:8786``) whose workers see the data folder.
    ensemble_workers: int = Field(2, ge=0)
    ensemble_scheduler: str | None = None
    #: Folder that admins may import PLATEAU datasets from (``POST /api/cities``); default ``DIR/import``.
    import_dir: Path | None = None

    @field_validator("imagery_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("TWIN_IMAGERY_URL must be an http(s) URL template")
        return value or None

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"TWIN_CORS_ORIGINS: {origin!r} is not an origin like https://host[:port]")
        return [origin.rstrip("/") for origin in value]

    @property
    def database(self) -> str:
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def imports(self) -> Path:
        """The import folder: ``import_dir``, or ``import`` inside the data folder."""
        return self.import_dir or self.data_dir / "import"

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
