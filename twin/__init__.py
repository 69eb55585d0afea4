"""machi-twin: the application — City model, tiles, simulations on the city, storage, server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("machi-twin")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
