"""SensorThings against a client written elsewhere: Fraunhofer's frost-sta-client over real HTTP."""

from __future__ import annotations

import datetime as dt

import frost_sta_client as fsc
import pytest
from requests.auth import AuthBase

from tests.sensors.conftest import MEASUREMENT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Bearer(fsc.AuthHandler):
    """frost-sta-client knows basic auth only; requests takes any AuthBase."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def add_auth_header(self) -> AuthBase:
        key = self.key

        class _Header(AuthBase):
            def __call__(self, request):
                request.headers["Authorization"] = f"Bearer {key}"
                return request

        return _Header()


def test_frost_client_creates_a_thing_deeply_posts_observations_and_reads_them_back(live_url, keys):
    service = fsc.SensorThingsService(f"{live_url}/sta/v1.1", auth_handler=Bearer(keys.sensor))
    location = fsc.Location(name="gauge site", description="river bank", encoding_type="application/geo+json",
                            location={"type": "Point", "coordinates": [139.68, 35.51]})
    datastream = fsc.Datastream(
        name="level", description="water level", observation_type=MEASUREMENT,
        unit_of_measurement=fsc.UnitOfMeasurement(name="metre", symbol="m", definition="m"),
        sensor=fsc.Sensor(name="radar", description="radar gauge", encoding_type="text/plain", metadata="-"),
        observed_property=fsc.ObservedProperty(name="water level", definition="urn:water-level",
                                               description="stage"))
    thing = fsc.Thing(name="gauge", description="a gauge", locations=[location], datastreams=[datastream])
    service.create(thing)
    assert isinstance(thing.id, int)

    stream = service.datastreams().query().filter("name eq 'level'").list().get(0)
    start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    for i in range(3):
        obs = fsc.Observation(result=1.0 + i, phenomenon_time=start + dt.timedelta(minutes=10 * i),
                              datastream=stream)
        service.create(obs)
        assert isinstance(obs.id, int)

    value = fsc.DataArrayValue()
    value.datastream = stream
    value.components = {fsc.DataArrayValue.Property.PHENOMENON_TIME, fsc.DataArrayValue.Property.RESULT}
    for i in range(3, 250):
        value.add_observation(fsc.Observation(result=1.0 + i / 100, datastream=stream,
                                              phenomenon_time=start + dt.timedelta(minutes=10 * i)))
    batch = fsc.DataArrayDocument()
    batch.add_data_array_value(value)
    created = service.observations().create(batch)
    assert len(created) == 247

    # the client follows @iot.nextLink across pages of 100
    observations = list(service.observations().query().filter("phenomenonTime ge 2024-06-01T00:00:00Z")
                        .orderby("phenomenonTime", "ASC").list())
    assert len(observations) == 250
    assert [o.result for o in observations[:3]] == [1.0, 2.0, 3.0]
    latest = service.datastreams().find(stream.id).get_observations().query().orderby("phenomenonTime").top(1).list()
    assert latest.get(0).result == pytest.approx(1.0 + 249 / 100)

    # the same observation sent again is not duplicated
    service.create(fsc.Observation(result=1.0, phenomenon_time=start, datastream=stream))
    assert service.observations().query().count().top(1).list().count == 250
