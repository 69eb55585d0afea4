"""The licence and attribution every published dataset, API answer and export carries.

PLATEAU's data are published under the PLATEAU site policy, which is compatible with
CC BY 4.0 and asks users to show 「出典：国土交通省 Project PLATEAU」 (REFERENCES.md). Results the
twin computes from them (simulations, decoded tables) are derived works: they name the source
the same way and say that they were processed, as the Japanese government's standard terms
of use ask of edited data (「…を加工して作成」).
"""

from __future__ import annotations

ATTRIBUTION = "出典：国土交通省 Project PLATEAU"
ATTRIBUTION_EN = "Source: Project PLATEAU, Ministry of Land, Infrastructure, Transport and Tourism (MLIT), Japan"
#: Said of everything the twin derived from PLATEAU data (tables, simulations, exports).
PROCESSED = "国土交通省 Project PLATEAU のデータを machi-twin が加工して作成"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
LICENCE_ID = "CC-BY-4.0"
LICENCE_TITLE = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
#: The policy PLATEAU's data are published under (compatible with CC BY 4.0).
SOURCE_TERMS_URL = "https://www.mlit.go.jp/plateau/site-policy/"
PLATEAU_URL = "https://www.mlit.go.jp/plateau/"
PUBLISHER = "国土交通省 (MLIT) Project PLATEAU"


def notice() -> dict[str, str]:
    """The attribution and licence as members of a JSON answer or file."""
    return {"attribution": ATTRIBUTION, "attribution_en": ATTRIBUTION_EN, "processing": PROCESSED,
            "license": LICENCE_URL, "source_terms": SOURCE_TERMS_URL}


def one_line() -> str:
    """The notice as one line of text (GeoPackage descriptions, raster tags, HTTP headers)."""
    return f"{ATTRIBUTION} ({PROCESSED}); licence {LICENCE_TITLE} {LICENCE_URL}"
