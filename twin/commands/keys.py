"""``twin keys``: create, list and revoke API keys (stored only as salted hashes)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import TwinInputError

keys_app = typer.Typer(help="API keys of the server: create (shown once), list, revoke.", no_args_is_help=True)
_DURATION = re.compile(r"^(\d{1,5})([hd])$")
DataDir = typer.Option(Path("data"), "--data-dir", "-d", envvar="TWIN_DATA_DIR",
                       help="Server home holding twin.db (TWIN_DATABASE_URL overrides).")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def open_home_store(data_dir: Path):
    """The store of a server home (created if missing); TWIN_DATABASE_URL overrides its twin.db."""
    from twin.server.settings import Settings
    from twin.store import open_store

    if data_dir.exists() and not data_dir.is_dir():
        raise TwinInputError(f"{data_dir}: not a folder")
    data_dir.mkdir(parents=True, exist_ok=True)
    return open_store(Settings(data_dir=data_dir).database)


def _keys(data_dir: Path):
    from twin.store.apikeys import ApiKeys

    return ApiKeys(open_home_store(data_dir))


@keys_app.command("create")
def create(
    role: str = typer.Option(..., "--role", "-r", help="staff, sensor or admin."),
    name: str = typer.Option(..., "--name", "-n", help="Who or what holds the key (unique)."),
    expires: str | None = typer.Option(None, "--expires", help="Refuse the key after this: 12h, 30d, or an "
                                       "ISO 8601 moment with a zone (2026-04-01T00:00+09:00)."),
    data_dir: Path = DataDir,
) -> None:
    """Print a new key on one line. It is shown only now; the server keeps its hash."""
    from twin.server.auth import KEY_ROLES

    if role not in KEY_ROLES:
        raise TwinInputError(f"--role {role}: expected one of {', '.join(KEY_ROLES)}")
    typer.echo(_keys(data_dir).create(name, role, expiry(expires) if expires else None))


def expiry(text: str, now: datetime | None = None) -> datetime:
    """The moment ``--expires`` names: a duration from now (``12h``, ``30d``) or a zoned ISO 8601 time."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        moment = now + (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TwinInputError(f"--expires {text}: expected 12h, 30d or an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise TwinInputError(f"--expires {text}: give the time zone (Z or +09:00)")
    if moment <= now:
        raise TwinInputError(f"--expires {text}: that moment has passed")
    return moment.astimezone(UTC)


@keys_app.command("list")
def list_keys(
    data_dir: Path = DataDir,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every key's name, role, id and dates (never the key itself)."""
    keys = _keys(data_dir).list()
    if as_json:
        typer.echo(json.dumps([{"name": k.name, "role": k.role, "id": k.id,
                                "created": k.created_at.isoformat(),
                                "revoked": k.revoked_at.isoformat() if k.revoked_at else None,
                                "expires": k.expires_at.isoformat() if k.expires_at else None}
                               for k in keys], indent=2))
        return
    table = Table("name", "role", "id", "created (UTC)", "revoked (UTC)", "expires (UTC)", box=None)
    for k in keys:
        table.add_row(k.name, k.role, k.id, f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
                      f"{k.expires_at:%Y-%m-%d %H:%M}" if k.expires_at else "")
    Console().print(table)


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="Name of the key to revoke."), data_dir: Path = DataDir) -> None:
    """Revoke a key at once: requests with it get 401 from then on."""
    key = _keys(data_dir).revoke(name)
    typer.echo(f"revoked {key.name} ({key.role})", err=True)
