"""schemathesis over the API's OpenAPI schema: whatever it sends, never a server error, and every answer is
what the schema declares for its status (its body conforms to the declared schema).

It runs against a database of its own (it creates, edits and deletes at random) with an admin's
token, so that every guarded operation is reached; bounded examples keep it to seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.services import embedded
from tests.conftest import bearer, make_user, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_target() -> Iterator[tuple[str, str]]:
    data_dir = Path(tempfile.mkdtemp(prefix="srf-", dir="/tmp"))
    server = None
    try:
        url = embedded.ensure_running(data_dir)
        token = make_user(url, "fuzz-admin", "admin")
        server = start_server(url)
        yield server.url, token
    finally:
        if server:
            server.stop()
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_no_input_makes_a_server_error(fuzz_target):  # type: ignore[no-untyped-def]
    base, token = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json").include(path_regex="^/api/")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, "the schema lost its operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        def fuzz(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(
                headers=bearer(token), checks=[not_a_server_error, response_schema_conformance], timeout=30
            )

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:  # try every operation; report all failures at once
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert not failures, "\n\n".join(failures)
