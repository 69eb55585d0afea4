"""The pieces of a cycle's forcing that are plain arithmetic, against hand-worked values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from twin.errors import TwinInputError
from twin.nowcast import forcing
from twin.nowcast.config import NowcastConfig
from twin.nowcast.forcing import WEIR_C, _held, _held_mean, _linear
from twin.sensors.times import iso

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_persistence_is_the_time_mean_of_held_readings():
    """10 mm/h for 20 min, 40 for 20, 0 for 20: (200 + 800 + 0) / 60 = 16.67 mm/h; a reading
    before the window holds into it."""
    readings = [(at(-5), 10.0), (at(20), 40.0), (at(40), 0.0)]
    assert _held_mean(readings, at(0), at(60)) == pytest.approx(1000 / 60, rel=1e-12)
    assert _held(readings, at(30)) == 40.0
    assert _linear(readings, at(30)) == pytest.approx(20.0)


def test_broad_crested_weir_coefficient():
    """C = (2/3)^1.5 √g: 1.705 m^½/s in SI (Henderson 1966, eq. 6-17; Chow 1959 quotes 1.70)."""
    assert WEIR_C == pytest.approx(1.705, abs=5e-4)


def test_config_refuses_what_it_cannot_run():
    base = {"rain_gauges": [1]}
    assert NowcastConfig.from_json(base, "c").cycle_s == 600
    for body, message in [({"rain_gauges": [1, 1]}, "listed twice"),
                          ({**base, "scheme": "fast"}, "scheme 'fast'"),
                          ({**base, "horizon_s": "3h"}, "horizon_s must be a number"),
                          ({"river_gauges": [{"datastream": 2, "breach": [[139.0, 35.0]]}]}, "two [lon, lat] points"),
                          ({"river_gauges": [{"datastream": 2, "side": "west", "breach": [[0, 0], [1, 1]]}]},
                           "one of them")]:
        with pytest.raises(TwinInputError, match=message.replace("[", r"\[")):
            NowcastConfig.from_json(body, "c")


def test_a_steep_rise_is_carried_on_as_a_trend_capped_at_one_metre(monkeypatch):
    """A river rising 3 m/h over the last hour (0 to 3 m): the trend adds 0.5 m in 10 min, then
    stops at +1 m (TREND_CAP_M) for the rest of the 3-hour horizon, not +9 m; said in the label."""
    readings = [(at(m), 3.0 + 3.0 * m / 60) for m in range(-60, 1, 5)]
    monkeypatch.setattr(forcing, "readings", lambda session, stream, since, end: readings)
    config = NowcastConfig.from_json({"river_gauges": [{"datastream": 7, "side": "west", "datum_m": 10.0}],
                                      "horizon_s": 10800, "output_interval_s": 600}, "c", origin=at(-60))
    out = forcing.cycle_forcing(None, config, {}, at(-60), T0)  # type: ignore[arg-type]
    assert out.labels["river gauge 7"] == f"observed to {iso(T0)}, then the last hour's trend (+3.00 m/h) capped at ±1 m"
    predicted = [v for _, v in out.predicted_stage[7]]
    assert predicted[:2] == pytest.approx([3.5, 4.0], abs=1e-6)
    assert predicted[2:] == pytest.approx([4.0] * 16, abs=1e-6) and forcing.TREND_CAP_M == 1.0
    stage = out.stages["west"]
    assert stage(config.seconds(at(180))) == pytest.approx(14.0, abs=1e-6)  # datum 10 m + 3 m + the 1 m cap
