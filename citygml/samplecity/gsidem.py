"""The sample city's ground as GSI would publish it: 基盤地図情報 DEM5A in JPGIS 2.x GML, zipped.

One file per 3rd-order mesh (225 × 150 points at 0.2″, ``+x-y`` from the north-west), zipped
per 2nd-order mesh as GSI's download service names them (``FG-GML-5339-73-DEM5A.zip``), so
an application can be tested on a City whose terrain comes from a GSI DEM over buildings
whose ground heights are known. Heights are the written TIN's (so the buildings' ground
matches), to GSI's 2 decimals; points off the TIN are データなし (−9999.).
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from citygml.meshcode import mesh_bbox
from citygml.samplecity.site import Site
from citygml.samplecity.terrain import Terrain

COLS, ROWS = 225, 150  # DEM5A points per 3rd-order mesh (45″ × 30″ at 0.2″)
DATE = "20240329"
FOLDER = "gsi"


def mesh_heights(site: Site, terrain: Terrain, mesh: str) -> np.ndarray:
    """(ROWS, COLS) heights at the cell centres of a 3rd-order mesh; NaN off the TIN."""
    west, south, east, north = mesh_bbox(mesh)
    dlon, dlat = (east - west) / COLS, (north - south) / ROWS
    lon = west + (np.arange(COLS) + 0.5) * dlon
    lat = north - (np.arange(ROWS) + 0.5) * dlat
    glon, glat = np.meshgrid(lon, lat)
    x, y = site.to_local(glat, glon)
    inside = (x >= terrain.xs[0]) & (x <= terrain.xs[-1]) & (y >= terrain.ys[0]) & (y <= terrain.ys[-1])
    heights = np.full(x.shape, np.nan)
    heights[inside] = np.round(terrain.height_at(x[inside], y[inside]), 2)
    return heights


def dem_xml(mesh: str, heights: np.ndarray) -> bytes:
    """One DEM5A file in GSI's layout (namespaces, element order, labels)."""
    west, south, east, north = mesh_bbox(mesh)
    values = heights.ravel()
    lines = "\n".join("データなし,-9999." if np.isnan(v) else f"地表面,{v:.2f}" for v in values)
    date = f"{DATE[:4]}-{DATE[4:6]}-{DATE[6:]}"
    text = f"""<?xml version="1.0" encoding="UTF-8"?>

<Dataset xsi:schemaLocation="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema FGD_GMLSchema.xsd"
\txmlns:gml="http://www.opengis.net/gml/3.2"
\txmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
\txmlns:xlink="http://www.w3.org/1999/xlink"
\txmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema"
\tgml:id="Dataset1">
\t<gml:description>基盤地図情報メタデータ ID=fmdid:15-3101</gml:description>
\t<gml:name>基盤地図情報ダウンロードデータ（GML版）</gml:name>

\t<DEM gml:id="DEM001">
\t\t<fid>fgoid:10-00100-15-60101-{mesh}</fid>
\t\t<lfSpanFr gml:id="DEM001-1">
\t\t\t<gml:timePosition>{date}</gml:timePosition>
\t\t</lfSpanFr>
\t\t<devDate gml:id="DEM001-2">
\t\t\t<gml:timePosition>{date}</gml:timePosition>
\t\t</devDate>
\t\t<orgGILvl>0</orgGILvl>
\t\t<orgMDId>twin sample-city</orgMDId>
\t\t<type>5mメッシュ（標高）</type>
\t\t<mesh>{mesh}</mesh>
\t\t<coverage gml:id="DEM001-3">
\t\t\t<gml:boundedBy>
\t\t\t\t<gml:Envelope srsName="fguuid:jgd2011.bl">
\t\t\t\t\t<gml:lowerCorner>{south:.9f} {west:.9f}</gml:lowerCorner>
\t\t\t\t\t<gml:upperCorner>{north:.9f} {east:.9f}</gml:upperCorner>
\t\t\t\t</gml:Envelope>
\t\t\t</gml:boundedBy>
\t\t\t<gml:gridDomain>
\t\t\t\t<gml:Grid dimension="2" gml:id="DEM001-4">
\t\t\t\t\t<gml:limits>
\t\t\t\t\t\t<gml:GridEnvelope>
\t\t\t\t\t\t\t<gml:low>0 0</gml:low>
\t\t\t\t\t\t\t<gml:high>{COLS - 1} {ROWS - 1}</gml:high>
\t\t\t\t\t\t</gml:GridEnvelope>
\t\t\t\t\t</gml:limits>
\t\t\t\t\t<gml:axisLabels>x y</gml:axisLabels>
\t\t\t\t</gml:Grid>
\t\t\t</gml:gridDomain>
\t\t\t<gml:rangeSet>
\t\t\t\t<gml:DataBlock>
\t\t\t\t\t<gml:rangeParameters>
\t\t\t\t\t\t<gml:QuantityList uom="DEM構成点"></gml:QuantityList>
\t\t\t\t\t</gml:rangeParameters>

<gml:tupleList>
{lines}
</gml:tupleList>

\t\t\t\t</gml:DataBlock>
\t\t\t</gml:rangeSet>
\t\t\t<gml:coverageFunction>
\t\t\t\t<gml:GridFunction>
\t\t\t\t\t<gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
\t\t\t\t\t<gml:startPoint>0 0</gml:startPoint>
\t\t\t\t</gml:GridFunction>
\t\t\t</gml:coverageFunction>
\t\t</coverage>
\t</DEM>
</Dataset>
"""
    return text.encode("utf-8")


def write_gsi_dem(out: Path, site: Site, terrain: Terrain) -> list[Path]:
    """``gsi/FG-GML-<1st>-<2nd>-DEM5A.zip`` per 2nd-order mesh, each of its 3rd-order meshes' files."""
    by_zip: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for mesh in site.meshes(3):
        heights = mesh_heights(site, terrain, mesh)
        if np.isnan(heights).all():
            continue
        name = f"FG-GML-{mesh[:4]}-{mesh[4:6]}-{mesh[6:]}-DEM5A-{DATE}.xml"
        by_zip[f"FG-GML-{mesh[:4]}-{mesh[4:6]}-DEM5A.zip"].append((name, dem_xml(mesh, heights)))
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for zip_name, members in sorted(by_zip.items()):
        path = folder / zip_name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2024, 3, 29, 0, 0, 0))  # fixed: same seed, same bytes
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        written.append(path)
    return written
