"""schemathesis against the app's own OpenAPI: every operation, as the agency admin, with
valid and invalid generated requests, and not one server error (issue 16: a NUL in any
string, a negative or oversized integer, a string longer than its column each gave 500).

A route added later is fuzzed too, since it appears in /schema/openapi.json. The examples
are few and derandomized so the run is the same every time and stays under a minute."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.engine import make_url

from core.settings import get_settings
from tests.serving import serve_app

EXAMPLES = 6  # per operation and generation mode
# Logging out would end the token the rest of the run uses.
SKIPPED = {("POST", "/api/v1/auth/logout")}


@pytest.fixture(scope="module")
def served(services: None) -> Iterator[str]:
    """The app on a real port, in a thread with its own event loop."""
    with serve_app(log_level="critical") as url:
        yield url


def forget_login_failures() -> None:
    """The fuzzed logins fail from 127.0.0.1: later tests must not wait for them."""
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False), autocommit=True) as conn:
        conn.execute("DELETE FROM login_throttle")


async def test_no_operation_answers_a_server_error(served, factory):
    admin = await factory.user("admin")
    schema = schemathesis.openapi.from_url(f"{served}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(max_examples=EXAMPLES, deadline=None, database=None,
                          derandomize=True, phases=[Phase.explicit, Phase.generate],
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: schemathesis.Case) -> None:
                    response = case.call(base_url=served, headers=admin.headers, timeout=30)
                    if response.status_code >= 500:
                        failures.append(
                            f"{case.method} {case.formatted_path} -> {response.status_code}"
                            f" query={case.query!r} body={case.body!r}")

                try:
                    call()
                except Unsatisfiable:  # nothing to make invalid (GET /health)
                    assert mode is GenerationMode.NEGATIVE
    finally:
        forget_login_failures()
    assert operations >= 50
    assert not failures, "\n".join(failures[:30])
