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
    certfile: Path | None = typer.Option(None, "--certfile", help="TLS certificate chain (PEM): serve HTTPS."),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="Private key (PEM) of --certfile."),
) -> None:
    """Serve the cities in DATA_DIR: REST API, 3D Tiles and the operations console at /."""
    import uvicorn

    from twin.server import Settings, create_app

    if data_dir.exists() and not data_dir.is_dir():
        raise TwinInputError(f"{data_dir}: not a folder")
    tls = _tls_files(certfile, keyfile)
    app = create_app(Settings(data_dir=data_dir))
    typer.echo(f"twin: serving {data_dir.resolve()} at http{'s' if tls else ''}://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                ssl_certfile=tls[0] if tls else None, ssl_keyfile=tls[1] if tls else None)


def _tls_files(certfile: Path | None, keyfile: Path | None) -> tuple[str, str] | None:
    """The certificate and key to serve HTTPS with (both or neither), checked to load together."""
    import ssl

    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise TwinInputError("--certfile and --keyfile go together")
    for option, path in (("--certfile", certfile), ("--keyfile", keyfile)):
        if not path.is_file():
            raise TwinInputError(f"{option} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, ValueError) as exc:
        raise TwinInputError(f"--certfile {certfile} / --keyfile {keyfile}: not a matching PEM "
                             f"certificate and key ({exc})") from None
    return str(certfile), str(keyfile)
