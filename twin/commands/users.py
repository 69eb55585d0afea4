"""``twin users``: operators (staff/admin) who sign in to the viewer with a password and TOTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.commands.keys import DataDir, open_home_store
from twin.errors import TwinInputError

users_app = typer.Typer(help="Operators of the console: password + TOTP sign-in.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _users(data_dir: Path):
    from twin.store.users import Users

    return Users(open_home_store(data_dir))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise TwinInputError("--password-stdin: no password on standard input")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("create")
def create(
    name: str = typer.Option(..., "--name", "-n", help="The operator's sign-in name (unique)."),
    role: str = typer.Option(..., "--role", "-r", help="staff or admin."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first "
                                        "line of standard input instead of prompting."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (name, role, totp_secret, totp_uri)."),
    data_dir: Path = DataDir,
) -> None:
    """Create an operator and print the TOTP secret and otpauth:// URI once: add it to an authenticator app."""
    from twin.store.users import USER_ROLES

    if role not in USER_ROLES:
        raise TwinInputError(f"--role {role}: operators are one of {', '.join(USER_ROLES)}")
    created = _users(data_dir).create(name, role, _password(password_stdin))
    if as_json:
        typer.echo(json.dumps({"name": created.user.name, "role": created.user.role,
                               "totp_secret": created.totp_secret, "totp_uri": created.provisioning_uri}))
        return
    typer.echo(f"created {created.user.name} ({created.user.role}). Add this to an authenticator app "
               "(shown only now):", err=True)
    typer.echo(f"TOTP secret: {created.totp_secret}")
    typer.echo(f"TOTP URI:    {created.provisioning_uri}")


@users_app.command("list")
def list_users(data_dir: Path = DataDir) -> None:
    """Every operator's name, role and dates (never a password or TOTP secret)."""
    table = Table("name", "role", "created (UTC)", "disabled (UTC)", box=None)
    for user in _users(data_dir).list():
        table.add_row(user.name, user.role, f"{user.created_at:%Y-%m-%d %H:%M}",
                      f"{user.disabled_at:%Y-%m-%d %H:%M}" if user.disabled_at else "")
    Console().print(table)


@users_app.command("disable")
def disable(name: str = typer.Argument(..., help="Name of the operator."), data_dir: Path = DataDir) -> None:
    """Disable an operator: their sessions end at once and they can't sign in again."""
    user = _users(data_dir).disable(name)
    typer.echo(f"disabled {user.name} ({user.role})", err=True)
