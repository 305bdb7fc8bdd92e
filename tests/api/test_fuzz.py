"""The API under generated and hostile input.

schemathesis reads the app's own OpenAPI schema and sends each operation a bounded number of
generated requests (valid and invalid), in process through ASGI, against the real service (real
embedder and store; the scripted model). No request may get a 5xx. The defaults that limit
exposure are in test_exposure.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from api_helpers import ScriptedModel
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from rag.api import create_app
from rag.service import RagService
from rag.settings import Settings

MAX_EXAMPLES = 25  # per operation: about 150 requests in all, well under a minute

# The schema comes from an app that never starts (building it loads nothing); the requests go to
# the session's app over the real service. (schemathesis' `from_fixture` does not run on pytest 9.)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def fuzzed_app(api_settings: Settings, api_service: RagService, scripted_model: ScriptedModel) -> FastAPI:
    scripted_model.reset()
    return create_app(api_settings, api_service)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI reproduces locally
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any, fuzzed_app: FastAPI) -> None:
    case.call_and_validate(app=fuzzed_app, checks=[not_a_server_error])
