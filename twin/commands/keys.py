"""``twin keys``: create, list and revoke API keys (stored only as salted hashes)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import TwinInputError

keys_app = typer.Typer(help="API keys of the server: create (shown once), list, revoke.", no_args_is_help=True)
DataDir = typer.Option(Path("data"), "--data-dir", "-d", envvar="TWIN_DATA_DIR",
                       help="Server home holding twin.db (TWIN_DATABASE_URL overrides).")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def _keys(data_dir: Path):
    from twin.server.settings import Settings
    from twin.store import open_store
    from twin.store.apikeys import ApiKeys

    if data_dir.exists() and not data_dir.is_dir():
        raise TwinInputError(f"{data_dir}: not a folder")
    data_dir.mkdir(parents=True, exist_ok=True)
    return ApiKeys(open_store(Settings(data_dir=data_dir).database))


@keys_app.command("create")
def create(
    role: str = typer.Option(..., "--role", "-r", help="staff, sensor or admin."),
    name: str = typer.Option(..., "--name", "-n", help="Who or what holds the key (unique)."),
    data_dir: Path = DataDir,
) -> None:
    """Print a new key on one line. It is shown only now; the server keeps its hash."""
    from twin.server.auth import KEY_ROLES

    if role not in KEY_ROLES:
        raise TwinInputError(f"--role {role}: expected one of {', '.join(KEY_ROLES)}")
    typer.echo(_keys(data_dir).create(name, role))


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
                                "revoked": k.revoked_at.isoformat() if k.revoked_at else None}
                               for k in keys], indent=2))
        return
    table = Table("name", "role", "id", "created (UTC)", "revoked (UTC)", box=None)
    for k in keys:
        table.add_row(k.name, k.role, k.id, f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    Console().print(table)


@keys_app.command("revoke")
def revoke(name: str = typer.Argument(..., help="Name of the key to revoke."), data_dir: Path = DataDir) -> None:
    """Revoke a key at once: requests with it get 401 from then on."""
    key = _keys(data_dir).revoke(name)
    typer.echo(f"revoked {key.name} ({key.role})", err=True)
