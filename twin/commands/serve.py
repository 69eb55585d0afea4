"""``twin serve``: the API, the 3D Tiles and the viewer over HTTP (uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.errors import TwinInputError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    data_dir: Path = typer.Option(Path("data"), "--data-dir", "-d", envvar="TWIN_DATA_DIR",
                                  help="Server home: one folder per converted city, and twin.db."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes the server to the network."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
) -> None:
    """Serve the cities in DATA_DIR: REST API, 3D Tiles and the operations console at /."""
    import uvicorn

    from twin.server import Settings, create_app

    if data_dir.exists() and not data_dir.is_dir():
        raise TwinInputError(f"{data_dir}: not a folder")
    app = create_app(Settings(data_dir=data_dir))
    typer.echo(f"twin: serving {data_dir.resolve()} at http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
