"""The HTTP server: REST API, static 3D Tiles, the viewer, roles and keys."""

from twin.server.app import create_app
from twin.server.settings import Settings

__all__ = ["Settings", "create_app"]
