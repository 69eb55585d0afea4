"""Every operation of the OpenAPI spec fuzzed by schemathesis with an admin key: no 5xx, answers as documented.

The app serves the converted sample city so that city, building and tile operations reach real
data. Rate limits are off (the fuzzer would only meet 429s); the two endless event streams are
left out (a generated request would never end). Bounded: ``MAX_EXAMPLES`` per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.security.conftest import make_app, role_keys
from tests.twin.fixtures_city import converted_sample_city, data_dir_linking

MAX_EXAMPLES = 12
ENDLESS = ("/api/stream", "/api/scenarios/{job_id}/events")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("fuzz") / "home", converted_sample_city())
    app = make_app(home, write_rate=0, expensive_per_minute=0)
    admin = role_keys(app)["admin"]
    return app, admin


def fuzz(operation, admin: str) -> None:
    """Up to MAX_EXAMPLES generated requests to ``operation``; raises on the first failed check."""

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), database=None)
    def run(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {admin}"},
                               checks=[not_a_server_error, response_schema_conformance, content_type_conformance])

    run()


def test_no_server_errors_and_documented_answers(fuzzed):
    app, admin = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ENDLESS:
            continue
        tried += 1
        try:
            fuzz(operation, admin)
        except (Exception, BaseExceptionGroup) as exc:  # fuzz every operation, report all failures
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert tried >= 40
    assert not failures, "\n\n".join(failures)


def test_the_fuzzing_finds_a_planted_server_error():
    from fastapi import FastAPI

    from twin.server import problems

    app = FastAPI()
    problems.install(app)

    @app.get("/boom/{n}")
    def boom(n: int) -> dict:
        return {"half": 1 // (n % 2)}  # crashes for every even n

    app.openapi_schema = problems.document(app.openapi())
    (operation,) = [r.ok() for r in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations()]
    with pytest.raises(ZeroDivisionError):  # the in-process client re-raises what became a 500
        fuzz(operation, "no-key-needed")
