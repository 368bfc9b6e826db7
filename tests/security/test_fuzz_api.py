"""Schemathesis against the OpenAPI schema, in process: no input gives a 5xx, every answer fits the schema.

Run with ``pytest -m fuzz`` (CI runs it as its own step); ``JOURNEYS_FUZZ_EXAMPLES`` sets the
examples per operation.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from builder import services
from engine.models import Project
from tests.conftest import client_for
from tests.engine.domain.examples import contract_example

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]

EXAMPLES = int(os.environ.get("JOURNEYS_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Keys:
    """The credentials and real ids the fuzzer swaps in, so operations get past 401/404."""

    token = ""
    ingest_key = ""
    sdk_key = ""
    ids: dict[str, Any] = {}


@pytest.fixture
def _keep_the_test_connection() -> Iterator[None]:
    """A WSGI request closes old database connections when it ends, which would close the
    test's transaction; Django's test client turns that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(marketer: Any, project: Project, _keep_the_test_connection: None) -> Any:
    journey = services.journey_create(
        project=project, user=marketer, name="Fuzzed", definition=contract_example()
    )
    services.journey_publish(journey=journey, user=marketer)
    token = client_for(marketer)._credentials["HTTP_AUTHORIZATION"]
    Keys.token = token
    Keys.ingest_key = project.ingest_key
    Keys.sdk_key = getattr(project, "sdk_key", "") or project.ingest_key
    Keys.ids = {"journey_id": journey.pk, "project_id": project.pk, "number": 1}
    document = SchemaGenerator().get_schema(request=None, public=True)
    # A JSON round trip turns lazy translation strings into plain ones.
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document, default=str)))
    schema.app = WSGIHandler()
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Print the figures CI reports: operations, requests and answers by status class."""
    yield
    operations = len({key for key in TALLY if key.startswith("op ")})
    statuses = {k: v for k, v in sorted(TALLY.items()) if not k.startswith("op ")}
    print(f"\nfuzz: {operations} operations, {sum(statuses.values())} requests, {statuses}")


def _headers(case: Any) -> dict[str, str]:
    security = case.operation.definition.raw.get("security") or []
    names = {name for requirement in security for name in requirement}
    if "ingestKey" in names and "tokenAuth" not in names:
        return {"Authorization": f"Bearer {Keys.ingest_key}"}
    return {"Authorization": Keys.token}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_gives_a_server_error_and_answers_fit_the_schema(case: Any) -> None:
    # Half the generated ids become real ones, so the handlers behind the 404 are fuzzed too.
    for name, real in Keys.ids.items():
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = real
    response = case.call(headers=_headers(case))
    TALLY[f"op {case.operation.method.upper()} {case.operation.path}"] += 1
    TALLY[f"{response.status_code // 100}xx"] += 1
    case.validate_response(response, checks=CHECKS)
