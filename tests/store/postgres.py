"""A throwaway PostgreSQL cluster for tests: initdb as ``postgres``, a free port, 127.0.0.1 only."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def pg_bin() -> Path | None:
    """The newest Debian PostgreSQL ``bin`` folder, or None when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    # The server refuses to run as root (CI runs as root): run it as the postgres user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Start a cluster and yield its server URL (no database part); drop it all afterwards."""
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb missing): "
                    "apt-get install -y postgresql")
    home = Path(tempfile.mkdtemp(prefix="twin-pg-"))
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
    port = _free_port()
    data, log = home / "data", home / "log"
    subprocess.run(_as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "twin"),
                   check=True, capture_output=True)
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run(_as_postgres(*ctl, "-o", f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off",
                                "-l", str(log), "-w", "start"), check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://twin@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres(*ctl, "-m", "immediate", "-w", "stop"), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new empty database on the cluster; its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(server_url.replace("+psycopg", "") + "/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
