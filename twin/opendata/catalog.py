"""The catalogue of what the twin holds: datasets, their distributions and the APIs, as DCAT-AP 3.

One description (``Catalogue``) feeds three readers: DCAT-AP 3 JSON-LD (for harvesters such as
data.europa.eu-style portals and ckanext-dcat), an HTML page people read, and the CKAN action
API (``twin.opendata.ckan``) that Japanese open-data portals harvest from. Objects are typed
with the classes DCAT-AP's range shapes expect (licence documents, media types, rights
statements, agents), using the EU controlled vocabularies DCAT-AP recommends for file
types, access rights and languages.
"""

from __future__ import annotations

import functools
import html
import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.opendata import licence

#: Access rights (EU "access-right" authority table, as DCAT-AP recommends).
PUBLIC = "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
RESTRICTED = "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"
_ACCESS_LABEL = {PUBLIC: "public", RESTRICTED: "restricted (an API key is needed)"}
JAPANESE = "http://publications.europa.eu/resource/authority/language/JPN"
ENGLISH = "http://publications.europa.eu/resource/authority/language/ENG"
_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
#: EU data themes (the vocabulary DCAT-AP recommends for dcat:theme).
THEME_REGIONS = "http://publications.europa.eu/resource/authority/data-theme/REGI"
THEME_ENVIRONMENT = "http://publications.europa.eu/resource/authority/data-theme/ENVI"
_THEME_LABEL = {THEME_REGIONS: "Regions and cities", THEME_ENVIRONMENT: "Environment"}
_AVAILABLE = "http://publications.europa.eu/resource/authority/planned-availability/AVAILABLE"
_ATTRIBUTION_LICENCE = "http://purl.org/adms/licencetype/Attribution"
_IANA = "https://www.iana.org/assignments/media-types/"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "locn": "http://www.w3.org/ns/locn#",
    "gsp": "http://www.opengis.net/ont/geosparql#", "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcatap": "http://data.europa.eu/r5r/",
}


@dataclass(frozen=True)
class Format:
    """A distribution format: its name (CKAN's ``format``), IANA media type and EU file-type code."""

    name: str
    media_type: str
    file_type: str | None = None


GEOJSON = Format("GeoJSON", "application/geo+json", "GEOJSON")
GPKG = Format("GeoPackage", "application/geopackage+sqlite3", "GPKG")
CSV = Format("CSV", "text/csv", "CSV")
CITYJSON = Format("CityJSON", "application/city+json", "JSON")
COG = Format("GeoTIFF", "image/tiff", "TIFF")
JSON = Format("JSON", "application/json", "JSON")
TILES = Format("3D Tiles", "application/json", "JSON")
OPENAPI = Format("OpenAPI", "application/vnd.oai.openapi+json", "JSON")


@dataclass(frozen=True)
class Distribution:
    """One way to get a dataset: an API answer or a file to download."""

    id: str
    title: str
    format: Format
    access_url: str
    download_url: str | None = None
    description: str = ""
    service: str | None = None  # id of the DataService it is served by


@dataclass(frozen=True)
class Dataset:
    """A dataset the twin holds."""

    id: str  # CKAN name rules: lower-case letters, digits, - and _
    title: str
    title_en: str
    description: str
    keywords: tuple[str, ...]
    modified: datetime
    distributions: tuple[Distribution, ...]
    group: str  # CKAN organisation / kind: "city", "layer", "scenario", "footfall", "sensors"
    bbox: tuple[float, float, float, float] | None = None
    access: str = PUBLIC
    themes: tuple[str, ...] = (THEME_REGIONS,)
    provenance: str = ""
    part_of: str | None = None
    landing_page: str | None = None
    credit: licence.Attribution = licence.PLATEAU  # what its data credit (licence.attribution of its City)


@dataclass(frozen=True)
class Service:
    """An API of the twin."""

    id: str
    title: str
    description: str
    endpoint: str
    description_url: str | None
    standard: str | None
    serves: tuple[str, ...] = ()
    access: str = PUBLIC
    keywords: tuple[str, ...] = ("API",)


@dataclass(frozen=True)
class Catalogue:
    """Everything the twin holds, at ``base`` (the server's URL)."""

    base: str
    title: str
    publisher: str
    modified: datetime
    datasets: tuple[Dataset, ...]
    services: tuple[Service, ...] = field(default=())
    contact: str = ""  # a URL or e-mail address of whoever answers questions about the data

    def dataset(self, ident: str) -> Dataset | None:
        return next((d for d in self.datasets if d.id == ident), None)

    @property
    def credit(self) -> licence.Attribution:
        """What the catalogue's datasets credit, all together."""
        return functools.reduce(operator.or_, (d.credit for d in self.datasets), licence.PLATEAU)


# -- DCAT-AP 3 JSON-LD ---------------------------------------------------------------------------


def _text(ja: str, en: str | None = None) -> list[dict[str, str]]:
    values = [{"@value": ja, "@language": "ja"}]
    if en:
        values.append({"@value": en, "@language": "en"})
    return values


def _moment(when: datetime) -> dict[str, str]:
    return {"@value": when.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}


def _typed(iri: str, kind: str, **members: Any) -> dict[str, Any]:
    return {"@id": iri, "@type": kind, **members}


def _rights(iri: str) -> dict[str, Any]:
    return _typed(iri, "dct:RightsStatement", **{"rdfs:label": _ACCESS_LABEL.get(iri, iri)})


def _licence() -> dict[str, Any]:
    return _typed(licence.LICENCE_URL, "dct:LicenseDocument", **{
        "rdfs:label": licence.LICENCE_TITLE,
        "dct:type": _typed(_ATTRIBUTION_LICENCE, "skos:Concept", **{"skos:prefLabel": "Attribution"})})


def _theme(iri: str) -> dict[str, Any]:
    return _typed(iri, "skos:Concept", **{"skos:prefLabel": {"@value": _THEME_LABEL.get(iri, iri), "@language": "en"}})


def _contact(catalogue: Catalogue) -> dict[str, Any] | None:
    if not catalogue.contact:
        return None
    link = catalogue.contact if ":" in catalogue.contact.split("@")[0] else f"mailto:{catalogue.contact}"
    member = "vcard:hasEmail" if link.startswith("mailto:") else "vcard:hasURL"
    return _typed(f"{catalogue.base}/catalog#contact", "vcard:Kind",
                  **{"vcard:fn": catalogue.publisher, member: {"@id": link}})


def _format(fmt: Format) -> dict[str, Any]:
    members: dict[str, Any] = {"dcat:mediaType": _typed(_IANA + fmt.media_type.split(";")[0], "dct:MediaType")}
    if fmt.file_type:
        members["dct:format"] = _typed(_FILE_TYPE + fmt.file_type, "dct:MediaTypeOrExtent",
                                       **{"rdfs:label": fmt.name})
    return members


def _distribution(catalogue: Catalogue, d: Distribution, credit: licence.Attribution) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@id": f"{catalogue.base}/catalog#distribution-{d.id}", "@type": "dcat:Distribution",
        "dct:title": _text(d.title), "dct:description": _text(d.description or d.title),
        "dcat:accessURL": _typed(d.access_url, "rdfs:Resource"), **_format(d.format),
        "dct:license": _licence(), "dcatap:availability": _typed(_AVAILABLE, "skos:Concept",
                                                                   **{"skos:prefLabel": "Available"}),
        "dct:rights": _typed(f"{catalogue.base}/catalog#attribution{'-gsi' if credit.gsi_dem else ''}",
                             "dct:RightsStatement",
                             **{"rdfs:label": _text(f"{credit.text}（{credit.processing}）", credit.text_en)}),
    }
    if d.download_url:
        body["dcat:downloadURL"] = _typed(d.download_url, "rdfs:Resource")
    if d.service:
        body["dcat:accessService"] = {"@id": _service_id(catalogue, d.service)}
    return body


def _service_id(catalogue: Catalogue, ident: str) -> str:
    return f"{catalogue.base}/catalog#service-{ident}"


def _dataset_id(catalogue: Catalogue, ident: str) -> str:
    return f"{catalogue.base}/catalog/datasets/{ident}"


def _dataset(catalogue: Catalogue, d: Dataset, publisher: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@id": _dataset_id(catalogue, d.id), "@type": "dcat:Dataset",
        "dct:identifier": d.id, "dct:title": _text(d.title, d.title_en),
        "dct:description": _text(f"{d.description}\n\n{d.credit.text}"),
        "dcat:keyword": [{"@value": k, "@language": "ja" if not k.isascii() else "en"} for k in d.keywords],
        "dct:modified": _moment(d.modified), "dct:publisher": publisher,
        "dct:accessRights": _rights(d.access),
        "dct:language": [_typed(JAPANESE, "dct:LinguisticSystem"), _typed(ENGLISH, "dct:LinguisticSystem")],
        "dcat:distribution": [_distribution(catalogue, x, d.credit) for x in d.distributions],
        "dcat:theme": [_theme(t) for t in d.themes],
    }
    if _contact(catalogue):
        body["dcat:contactPoint"] = _contact(catalogue)
    if d.bbox is not None:
        west, south, east, north = d.bbox
        polygon = (f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))")
        body["dct:spatial"] = {"@id": f"{_dataset_id(catalogue, d.id)}#extent", "@type": "dct:Location",
                               "dcat:bbox": {"@value": polygon, "@type": "gsp:wktLiteral"},
                               "dcat:centroid": {"@value": f"POINT({(west + east) / 2} {(south + north) / 2})",
                                                 "@type": "gsp:wktLiteral"}}
    if d.provenance:
        body["dct:provenance"] = {"@id": f"{_dataset_id(catalogue, d.id)}#provenance",
                                  "@type": "dct:ProvenanceStatement", "rdfs:label": _text(d.provenance)}
    if d.part_of:
        body["dct:isPartOf"] = {"@id": _dataset_id(catalogue, d.part_of)}
    if d.credit.gsi_dem:
        body["dct:source"] = _gsi_dem()
    if d.landing_page:
        body["dcat:landingPage"] = _typed(d.landing_page, "foaf:Document")
    return body


def _gsi_dem() -> dict[str, Any]:
    """GSI's 基盤地図情報 数値標高モデル, as the source dataset of a City whose terrain came from it."""
    return _typed(licence.GSI_URL, "dcat:Dataset", **{
        "dct:title": _text("基盤地図情報 数値標高モデル", "Fundamental Geospatial Data: Digital Elevation Model"),
        "dct:description": _text(licence.GSI_DEM, licence.GSI_DEM_EN),
        "dct:publisher": _typed("https://www.gsi.go.jp/", "foaf:Agent", **{"foaf:name": "国土地理院 (GSI)"}),
        "dcat:landingPage": _typed(licence.GSI_URL, "foaf:Document"),
        "dct:rights": _typed(licence.GSI_TERMS_URL, "dct:RightsStatement",
                             **{"rdfs:label": _text("国土地理院コンテンツ利用規約", "GSI terms of use")})})


def _service(catalogue: Catalogue, s: Service, publisher: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@id": _service_id(catalogue, s.id), "@type": "dcat:DataService", "dct:title": _text(s.title),
        "dct:description": _text(s.description), "dcat:endpointURL": _typed(s.endpoint, "rdfs:Resource"),
        "dct:publisher": publisher, "dct:accessRights": _rights(s.access), "dct:license": _licence(),
        "dcat:servesDataset": [{"@id": _dataset_id(catalogue, ident)} for ident in s.serves],
        "dcat:keyword": [{"@value": k, "@language": "en"} for k in s.keywords],
        "dcat:theme": [_theme(THEME_REGIONS)],
    }
    if _contact(catalogue):
        body["dcat:contactPoint"] = _contact(catalogue)
    if s.description_url:
        body["dcat:endpointDescription"] = _typed(s.description_url, "rdfs:Resource")
    if s.standard:
        body["dct:conformsTo"] = _typed(s.standard, "dct:Standard")
    return body


def json_ld(catalogue: Catalogue) -> dict[str, Any]:
    """The catalogue as DCAT-AP 3 JSON-LD (with its context inline: nothing is fetched to read it)."""
    publisher = _typed(f"{catalogue.base}/catalog#publisher", "foaf:Agent", **{"foaf:name": catalogue.publisher})
    return {
        "@context": CONTEXT, "@id": f"{catalogue.base}/catalog", "@type": "dcat:Catalog",
        "dct:title": _text(catalogue.title, "machi-twin open data catalogue"),
        "dct:description": _text(
            "PLATEAU 3D都市モデルと、それを基にしたシミュレーション結果・人流集計・センサー情報、およびそのAPIの一覧。"
            f"{catalogue.credit.text}",
            "The PLATEAU city models of this digital twin, what it computed on them, footfall aggregates, "
            "sensors, and the APIs serving them."),
        "dct:publisher": publisher, "dct:license": _licence(), "dct:modified": _moment(catalogue.modified),
        "dct:language": [_typed(JAPANESE, "dct:LinguisticSystem"), _typed(ENGLISH, "dct:LinguisticSystem")],
        "foaf:homepage": _typed(f"{catalogue.base}/", "foaf:Document"),
        "dcat:themeTaxonomy": _typed("http://publications.europa.eu/resource/authority/data-theme",
                                     "skos:ConceptScheme", **{"dct:title": "Data theme"}),
        "dcat:dataset": [_dataset(catalogue, d, publisher) for d in catalogue.datasets],
        "dcat:service": [_service(catalogue, s, publisher) for s in catalogue.services],
    }


# -- HTML --------------------------------------------------------------------------------------


def html_page(catalogue: Catalogue) -> str:
    """The catalogue as a page people read (no script, no external resources)."""
    e = html.escape
    rows = []
    for d in catalogue.datasets:
        links = "".join(f'<li><a href="{e(x.download_url or x.access_url)}">{e(x.title)}</a> '
                        f"<small>{e(x.format.name)}</small></li>" for x in d.distributions)
        access = "" if d.access == PUBLIC else f' <span class="restricted">{e(_ACCESS_LABEL[d.access])}</span>'
        credit = f"<p class=meta>{e(d.credit.text)}</p>" if d.credit.gsi_dem else ""
        rows.append(f'<section id="{e(d.id)}"><h2>{e(d.title)} <small lang="en">{e(d.title_en)}</small>{access}</h2>'
                    f"<p>{e(d.description)}</p><p class=meta>更新 {e(d.modified.isoformat(timespec='seconds'))}"
                    f" · {e(', '.join(d.keywords))}</p>{credit}<ul>{links}</ul></section>")
    services = "".join(f'<li><a href="{e(s.endpoint)}">{e(s.title)}</a> — {e(s.description)}'
                       + (f' (<a href="{e(s.description_url)}">API description</a>)' if s.description_url else "")
                       + ("" if s.access == PUBLIC else f" <em>{e(_ACCESS_LABEL[s.access])}</em>") + "</li>"
                       for s in catalogue.services)
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(catalogue.title)}</title>"
        f'<link rel="alternate" type="application/ld+json" href="{e(catalogue.base)}/catalog.jsonld">'
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
        "h2{font-size:1.15rem;margin-bottom:.2rem}small{color:#555}.meta{color:#555;font-size:.9rem}"
        ".restricted{font-size:.8rem;background:#eee;padding:0 .3rem}</style></head><body>"
        f"<h1>{e(catalogue.title)}</h1>"
        f"<p>{e(catalogue.credit.text)}（{e(catalogue.credit.processing)}）。"
        f'ライセンス: <a href="{e(licence.LICENCE_URL)}">{e(licence.LICENCE_TITLE)}</a>。'
        f'<a href="{e(catalogue.base)}/catalog.jsonld">DCAT-AP (JSON-LD)</a> · '
        f'<a href="{e(catalogue.base)}/ckan/api/3/action/package_list">CKAN API</a></p>'
        f"<h2>API</h2><ul>{services}</ul>{''.join(rows)}</body></html>"
    )
