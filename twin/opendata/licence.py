"""The licence and attribution every published dataset, API answer and export carries.

PLATEAU's data are published under the PLATEAU site policy, which is compatible with
CC BY 4.0 and asks users to show 「出典：国土交通省 Project PLATEAU」 (REFERENCES.md). Results the
twin computes from them (simulations, decoded tables) are derived works: they name the source
the same way and say that they were processed, as the Japanese government's standard terms
of use ask of edited data (「…を加工して作成」). A City whose terrain came from GSI's 基盤地図情報
数値標高モデル (``terrain.sources`` of its manifest) also names GSI, as GSI's terms of use for
基盤地図情報 ask (``GSI_TERMS_URL``): :func:`attribution` says what a City's data must credit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ATTRIBUTION = "出典：国土交通省 Project PLATEAU"
ATTRIBUTION_EN = "Source: Project PLATEAU, Ministry of Land, Infrastructure, Transport and Tourism (MLIT), Japan"
GSI_DEM = "出典：国土地理院 基盤地図情報 数値標高モデル"
GSI_DEM_EN = ("Source: Fundamental Geospatial Data, Digital Elevation Model, "
              "Geospatial Information Authority of Japan (GSI)")
#: GSI's terms of use of its content (基盤地図情報 included), which ask for the source to be named.
GSI_TERMS_URL = "https://www.gsi.go.jp/kikakuchousei/kikakuchousei40182.html"
GSI_URL = "https://fgd.gsi.go.jp/download/"
#: The terrain source kind of a GSI DEM (``twin.city.layout.TERRAIN_SOURCES``).
GSI_DEM_KIND = "gsi_dem"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
LICENCE_ID = "CC-BY-4.0"
LICENCE_TITLE = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
#: The policy PLATEAU's data are published under (compatible with CC BY 4.0).
SOURCE_TERMS_URL = "https://www.mlit.go.jp/plateau/site-policy/"
PLATEAU_URL = "https://www.mlit.go.jp/plateau/"
PUBLISHER = "国土交通省 (MLIT) Project PLATEAU"


@dataclass(frozen=True)
class Attribution:
    """What data from one or more Cities must credit: PLATEAU always, GSI's DEM when it was used."""

    gsi_dem: bool = False

    @property
    def text(self) -> str:
        """The source line(s) in Japanese: 「出典：国土交通省 Project PLATEAU」 and, when used, GSI's."""
        return f"{ATTRIBUTION}、{GSI_DEM}" if self.gsi_dem else ATTRIBUTION

    @property
    def text_en(self) -> str:
        return f"{ATTRIBUTION_EN}; {GSI_DEM_EN}" if self.gsi_dem else ATTRIBUTION_EN

    @property
    def processing(self) -> str:
        """Said of everything the twin derived from the sources (tables, simulations, exports)."""
        sources = "国土交通省 Project PLATEAU 及び 国土地理院 基盤地図情報" if self.gsi_dem else "国土交通省 Project PLATEAU"
        return f"{sources} のデータを machi-twin が加工して作成"

    @property
    def source_terms(self) -> str:
        """The terms the sources are published under (space-separated URLs)."""
        return f"{SOURCE_TERMS_URL} {GSI_TERMS_URL}" if self.gsi_dem else SOURCE_TERMS_URL

    def notice(self) -> dict[str, str]:
        """The attribution and licence as members of a JSON answer or file."""
        return {"attribution": self.text, "attribution_en": self.text_en, "processing": self.processing,
                "license": LICENCE_URL, "source_terms": self.source_terms}

    def one_line(self) -> str:
        """The notice as one line of text (GeoPackage descriptions, raster tags, HTTP headers)."""
        return f"{self.text} ({self.processing}); licence {LICENCE_TITLE} {LICENCE_URL}"

    def tags(self) -> dict[str, str]:
        """The notice as file metadata items (GeoPackage, GeoTIFF tags)."""
        return {"ATTRIBUTION": self.text, "PROCESSING": self.processing, "LICENSE": LICENCE_URL,
                "SOURCE_TERMS": self.source_terms}

    def __or__(self, other: Attribution) -> Attribution:
        """What data from both must credit."""
        return Attribution(self.gsi_dem or other.gsi_dem)


#: What data that did not use a GSI DEM credit (PLATEAU alone).
PLATEAU = Attribution()


def attribution(*manifests: Mapping[str, Any]) -> Attribution:
    """What data from the Cities with these manifests (``city.json``) must credit: GSI too when
    any of their terrains took cells from a GSI DEM (``terrain.sources`` of kind ``gsi_dem``)."""
    gsi = False
    for manifest in manifests:
        terrain = manifest.get("terrain")
        sources = terrain.get("sources") if isinstance(terrain, Mapping) else None
        gsi = gsi or any(isinstance(s, Mapping) and s.get("kind") == GSI_DEM_KIND for s in sources or ())
    return Attribution(gsi)
