"""The simulated feed over real HTTP: the storm drives the river through its thresholds and raises
alerts on a running server; the back-filled counters have daily and weekly rhythms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest

from tests.sensors.conftest import Keys
from twin.sensors import events
from twin.sensors.simulate import THRESHOLDS, Feed, river_stage_m, run_live

BBOX = [139.70, 35.60, 139.71, 35.61]


@pytest.fixture
def town(home):
    """A minimal city ``town`` (only its manifest) in the server's data folder."""
    (home / "town").mkdir()
    (home / "town" / "city.json").write_text(json.dumps({"id": "town", "name": "town", "bbox": BBOX}))
    return "town"


def test_the_storm_crosses_every_threshold_and_raises_alerts(app, live_url, keys, town):
    feed = Feed(live_url, keys.admin, town)
    assert feed.install() == []
    start = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)
    sent = run_live(feed, start, timedelta(hours=8), speed=1e9)
    assert sent > 2 * 96
    with app.state.store.session() as session:
        alerts = [e.data for e in events.since(session, 0, False, limit=10_000) if e.kind == "alert"]
    river = [a for a in alerts if a["name"] == "sim-river-gauge water level"]
    rising = [a["level"] for a in river][:4]
    assert rising == [1, 2, 3, 4]  # 待機 → 氾濫注意 → 避難判断 → 氾濫危険, in order
    assert river[3]["value"] >= THRESHOLDS["danger"]
    assert river[-1]["level"] < 2  # and back down as the river falls
    current = httpx.get(f"{live_url}/api/alerts").json()["alerts"]
    assert any(a["level"] == river[-1]["level"] for a in current)


def test_backfilled_counters_have_daily_and_weekly_rhythms(live_url, keys, town):
    feed = Feed(live_url, keys.admin, town, seed=3)
    feed.install()
    end = datetime(2024, 6, 17, 15, 0, tzinfo=UTC)  # midnight 2024-06-18 JST, a Tuesday
    sent = feed.backfill(end - timedelta(days=14), end)
    assert sent == 14 * 96 * 6
    areas = httpx.get(f"{live_url}/api/footfall/town/areas").json()["features"]
    assert {(a["properties"]["id"], a["properties"]["counters"]) for a in areas} == {
        ("station", 2), ("shops", 2), ("park", 2)}
    staff = Keys.header(keys.staff)

    def daily(area: str) -> dict[str, float]:
        body = httpx.get(f"{live_url}/api/footfall/town/summary", headers=staff,
                         params={"area": area, "start": "2024-06-04", "days": 14}).json()
        return {d["date"]: d["count"] for d in body["daily"]}

    station, park = daily("station"), daily("park")
    weekday, weekend = "2024-06-12", "2024-06-15"  # a Wednesday and a Saturday
    assert station[weekday] > 1.5 * station[weekend]
    assert park[weekend] > 1.5 * park[weekday]
    profile = httpx.get(f"{live_url}/api/footfall/town/summary", headers=staff,
                        params={"area": "station", "start": "2024-06-10", "days": 5}).json()["busiest"]
    assert {p["hour"] for p in profile} <= {7, 8, 17, 18}  # the commuter peaks


def test_live_feed_keeps_to_the_requested_speed():
    class Recorder:
        def live(self, start, moment):
            return 1

    clock, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    sent = run_live(Recorder(), datetime(2024, 1, 1, tzinfo=UTC), timedelta(hours=1), speed=60,
                    clock=lambda: clock[0], sleep=sleep)
    assert sent == 13  # every 5 simulated minutes, both ends included
    assert sum(slept) == pytest.approx(60.0)  # one simulated hour at 60x is one real minute


def test_river_stage_is_a_smooth_rise_and_fall():
    stages = [river_stage_m(h / 4) for h in range(33)]
    peak = stages.index(max(stages))
    assert all(a <= b for a, b in pairwise(stages[:peak + 1]))
    assert all(a >= b for a, b in pairwise(stages[peak:]))
    assert max(stages) > THRESHOLDS["danger"] and stages[0] < THRESHOLDS["standby"]
