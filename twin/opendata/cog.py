"""A flood result's grid as a Cloud-Optimized GeoTIFF (tiled, with overviews, header first).

Written by GDAL's COG driver through rasterio (no new dependency), deflate-compressed, with
the attribution and licence in the file's tags. The grid keeps the City's plane-rectangular
CRS: GIS tools reproject on the fly, and depths stay on the cells they were computed on.
"""

from __future__ import annotations

from pathlib import Path

import rasterio
import rasterio.shutil

from twin.errors import TwinInputError
from twin.files.atomic import partial, replacing
from twin.opendata import licence

#: Tile edge (pixels) and the overview resampling: a depth is averaged, never invented.
BLOCK = 512
OVERVIEWS = "AVERAGE"


def write_cog(grid: Path, out: Path, title: str = "", credit: licence.Attribution = licence.PLATEAU) -> Path:
    """Copy the GeoTIFF ``grid`` (e.g. ``max_depth.tif``) to ``out`` as a COG, crediting ``credit``
    (``licence.attribution`` of the City the grid was computed on)."""
    if not grid.is_file():
        raise TwinInputError(f"{grid}: no such grid")
    tags = {**credit.tags(), "TITLE": title or grid.stem, "UNITS": "m"}
    tagged = partial(out.with_suffix(".tagged.tif"))
    try:
        # The COG driver copies its source's tags; tagging the COG afterwards would break its layout.
        rasterio.shutil.copy(grid, tagged, driver="GTiff")
        with rasterio.open(tagged, "r+") as source:
            source.update_tags(**tags)
        with replacing(out) as tmp:
            rasterio.shutil.copy(tagged, tmp, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=BLOCK,
                                 OVERVIEW_RESAMPLING=OVERVIEWS, OVERVIEWS="AUTO")
    except rasterio.errors.RasterioError as exc:
        raise TwinInputError(f"{grid}: not a readable GeoTIFF ({exc})") from None
    finally:
        tagged.unlink(missing_ok=True)
    return out
