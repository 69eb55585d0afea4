"""A hazard-only or DEM-only download makes a City with no buildings; the server and the public hazard
map answer for it (its layers, or a 404 problem saying what it lacks), never a server error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import plateau_sample
from tests.twin.convert.plateau_xml import part_counts
from twin.convert.pipeline import convert
from twin.server import Settings, create_app


@pytest.fixture(scope="module")
def home(tmp_path_factory, gsi_sample):
    root = tmp_path_factory.mktemp("home")
    numazu = plateau_sample("22203_numazu")
    convert([numazu], root / "numazu")  # river and tsunami areas only
    full, _ = gsi_sample
    convert([full / "gsi"], root / "ground")  # a GSI DEM only
    return root, numazu


def test_hazard_only_and_dem_only_cities_are_served(home):
    root, numazu = home
    app = create_app(Settings(data_dir=root))
    with TestClient(app) as client:
        listed = {c["id"]: c for c in client.get("/api/cities").json()["cities"]}
        assert set(listed) == {"numazu", "ground"}
        assert listed["numazu"]["counts"]["buildings"] == 0
        assert listed["numazu"]["counts"]["hazard_areas"] == part_counts(numazu)["hazards"] == 6
        areas = client.get("/api/cities/numazu/hazards")
        assert areas.status_code == 200 and len(areas.json()["features"]) == 6
        assert {f["properties"]["layer"] for f in areas.json()["features"]} == {"fld", "tnm"}
        detail = client.get("/api/cities/ground").json()
        assert detail["terrain"]["sources"][0]["kind"] == "gsi_dem" and detail["files"]["buildings"] is None
        for city in ("numazu", "ground"):
            for path in ("", "/buildings", "/footprints", "/hazards", "/hazard-simulation", "/shelters",
                         "/hazard-at?lon=138.8885&lat=35.1082"):
                answer = client.get(f"/api/cities/{city}{path}")
                assert answer.status_code < 500, (city, path, answer.text)
                if answer.status_code == 404:
                    assert answer.headers["content-type"].startswith("application/problem+json"), (city, path)
        missing = client.get("/api/cities/numazu/buildings").json()
        assert missing["type"].endswith("no-buildings")
