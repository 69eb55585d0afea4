"""The catalogue as CKAN's action API answers (CKAN 2.x ``package_*`` and ``organization_list``).

Japan's open-data portals (G空間情報センター and many municipal portals) run CKAN and harvest
other CKAN sites through this API (ckanext-harvest's CKAN harvester calls ``package_search``
with ``fq=metadata_modified:[SINCE TO *]``, then ``package_show``). Packages are the
catalogue's datasets, resources their distributions; one organisation, the publisher.
Answers are wrapped as CKAN wraps them (``{"help", "success", "result"}``) and errors carry
CKAN's ``__type`` so that clients such as ``ckanapi`` raise their usual exceptions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from twin.errors import TwinInputError
from twin.opendata import licence
from twin.opendata.catalog import PUBLIC, Catalogue, Dataset

#: CKAN's own licence register id for Creative Commons Attribution (every CKAN site knows it).
LICENCE_ID = "cc-by"
MAX_ROWS = 1000
DEFAULT_ROWS = 10
_FQ_TERM = re.compile(r'(?P<key>[a-z_]+):(?P<value>"[^"]*"|\[[^\]]*\]|\S+)')
_RANGE = re.compile(r"^\[\s*(?P<low>\S+)\s+TO\s+(?P<high>\S+)\s*\]$")
_SORTS = {"metadata_modified desc", "metadata_modified asc", "name asc", "name desc", "title asc", "title desc",
          "score desc, metadata_modified desc"}


def organisation_name(catalogue: Catalogue) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", catalogue.publisher.lower()).strip("-") or "publisher"


def organisation(catalogue: Catalogue) -> dict[str, Any]:
    name = organisation_name(catalogue)
    return {"id": name, "name": name, "title": catalogue.publisher, "type": "organization",
            "is_organization": True, "state": "active", "approval_status": "approved", "image_url": "",
            "description": f"{catalogue.title}. {catalogue.credit.text}", "created": _iso(catalogue.modified)}


def package(catalogue: Catalogue, d: Dataset) -> dict[str, Any]:
    """A CKAN package dict of one dataset."""
    org = organisation(catalogue)
    resources = [{"id": f"{d.id}--{k}", "package_id": d.id, "position": k, "name": x.title,
                  "description": x.description or x.title, "url": x.download_url or x.access_url,
                  "format": x.format.name, "mimetype": x.format.media_type, "state": "active",
                  "last_modified": _iso(d.modified), "url_type": None}
                 for k, x in enumerate(d.distributions)]
    tags = [{"name": _tag(k), "display_name": _tag(k), "state": "active", "vocabulary_id": None}
            for k in dict.fromkeys(d.keywords)]
    extras = [{"key": "title_en", "value": d.title_en}, {"key": "attribution", "value": d.credit.text},
              {"key": "access_rights", "value": "public" if d.access == PUBLIC else "restricted"}]
    if d.bbox is not None:
        west, south, east, north = d.bbox
        extras.append({"key": "spatial", "value": json.dumps({"type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]]]})})
    if d.provenance:
        extras.append({"key": "provenance", "value": d.provenance})
    if d.credit.gsi_dem:
        extras.append({"key": "source", "value": f"{licence.GSI_DEM} {licence.GSI_URL}"})
    return {
        "id": d.id, "name": d.id, "title": d.title, "type": "dataset", "state": "active", "private": False,
        "notes": f"{d.description}\n\n{d.credit.text}（{d.credit.processing}）", "url": d.landing_page or "",
        "author": licence.PUBLISHER, "maintainer": catalogue.publisher, "version": None,
        "license_id": LICENCE_ID, "license_title": licence.LICENCE_TITLE, "license_url": licence.LICENCE_URL,
        "isopen": True, "metadata_created": _iso(d.modified), "metadata_modified": _iso(d.modified),
        "organization": org, "owner_org": org["id"], "groups": [{"name": d.group, "title": d.group}],
        "resources": resources, "num_resources": len(resources), "tags": tags, "num_tags": len(tags),
        "extras": extras,
    }


def search(catalogue: Catalogue, q: str | None, fq: str | None, rows: int, start: int, sort: str | None
           ) -> dict[str, Any]:
    """``package_search``: every word of ``q`` in a package's text, every ``fq`` term true; sorted, paged."""
    if sort is not None and sort not in _SORTS:
        raise TwinInputError(f"sort {sort!r}: use one of {', '.join(sorted(_SORTS))}")
    filters = _filters(fq, organisation_name(catalogue))
    words = [w.lower() for w in (q or "").split() if w not in ("*:*", "*")]
    found = [d for d in catalogue.datasets if all(w in _text(d) for w in words) and all(f(d) for f in filters)]
    key, descending = (sort or "metadata_modified desc").split(",")[0].split()
    found.sort(key=lambda d: (d.modified if key == "metadata_modified" else getattr(d, "id" if key == "name" else key)),
               reverse=descending == "desc")
    chosen = found[start:start + min(rows, MAX_ROWS)]
    return {"count": len(found), "sort": sort or "metadata_modified desc", "facets": {}, "search_facets": {},
            "results": [package(catalogue, d) for d in chosen]}


def _text(d: Dataset) -> str:
    return " ".join([d.id, d.title, d.title_en, d.description, *d.keywords,
                     *(x.format.name for x in d.distributions)]).lower()


def _filters(fq: str | None, organisation: str) -> list:
    """Solr-style ``key:value`` terms on name, organization, groups, tags, res_format and metadata_modified."""
    if not fq or not fq.strip():
        return []
    terms = list(_FQ_TERM.finditer(fq))
    rest = _FQ_TERM.sub("", fq).replace("+", " ").replace("AND", " ").strip()
    if rest or not terms:
        raise TwinInputError(f"fq {fq!r}: use key:value terms (name, organization, groups, tags, res_format, "
                             "metadata_modified:[FROM TO *])")
    return [_filter(m.group("key"), m.group("value").strip('"'), organisation) for m in terms]


def _filter(key: str, value: str, organisation: str):
    if key == "metadata_modified":
        bounds = _RANGE.match(value)
        if not bounds:
            raise TwinInputError(f"fq metadata_modified:{value}: expected [FROM TO UNTIL] with * for open ends")
        low, high = (_moment(bounds.group(k)) for k in ("low", "high"))
        return lambda d: (low is None or d.modified >= low) and (high is None or d.modified <= high)
    fields = {"name": lambda d: [d.id], "id": lambda d: [d.id], "organization": lambda d: [organisation],
              "groups": lambda d: [d.group], "tags": lambda d: [_tag(k) for k in d.keywords],
              "res_format": lambda d: [x.format.name for x in d.distributions]}
    if key not in fields:
        raise TwinInputError(f"fq {key}: filter on one of {', '.join(sorted([*fields, 'metadata_modified']))}")
    return lambda d, get=fields[key]: value in get(d)


def _moment(text: str) -> datetime | None:
    if text == "*":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TwinInputError(f"fq metadata_modified: {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tag(keyword: str) -> str:
    """A CKAN tag: letters (any script), digits, spaces, ``-``, ``_`` and ``.``, at most 100 characters."""
    return re.sub(r"[^\w .-]+", "-", keyword)[:100]


def _iso(moment: datetime) -> str:
    """CKAN's time format: ISO 8601 in UTC without a zone suffix."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
