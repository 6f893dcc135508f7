"""schemathesis over the whole OpenAPI document, every check, in-process (docs/reliability.md R17).

The document is loaded from the API itself (`GET /api/v1/schema/`) and schemathesis' engine (what
`schemathesis run` runs: the examples, coverage, fuzzing and stateful phases) calls every operation of a
live server on loopback (pytest-django's `live_server`, a thread of this process on the test database), with
an API key of a workspace that owns one object of each kind (so path ids and body references reach real
objects as often as made-up ones). Every check schemathesis has is
on: no 5xx, every status code, content type, header and body as documented, schema-invalid input refused,
schema-valid input accepted, authentication not ignored, unsupported methods 405.

Settings that say what the API is, not what is skipped:
- positive data acceptance also expects 400 and 402: a body can be schema-valid and still name a template
  that does not exist, or a spec the spec validator refuses (the spec is free-form JSON in the document),
  and billing may refuse the cost. Everything else a schema-valid request may get is 2xx, 401, 403, 404,
  409 or 429, as schemathesis expects.
- Nothing leaves the machine and no task runs: names resolve (in `core.outbound`) to a private address, so
  every URL a body gives is refused at request time (R10), and enqueued tasks are dropped (the renders a
  request accepts stay queued: this is about the API's answers, not rendering).
- The server answers from its own thread, so the data is committed (a transactional test) for it to see.

`REELSMITH_SCHEMATHESIS_EXAMPLES` (default 10) bounds the examples per operation and phase; `.ci/run` runs
it with more. schemathesis' pytest plugin is not used (4.32 reads a node attribute pytest 9.2 removed),
nor its in-process WSGI transport (the engine hands it `max_redirects`, which werkzeug's client refuses).
"""

from __future__ import annotations

import os
import socket
from typing import Any

import pytest
import schemathesis
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status
from schemathesis.engine import events as engine_events

from tests.campaigns.helpers import make_campaign, upload_json
from tests.factories import api_key_for
from tests.render.test_api_renders import make_brand, make_template, request_render

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    # Hypothesis warns when it prints a large generated value; the run reports its own failures.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

EXAMPLES = int(os.environ.get("REELSMITH_SCHEMATHESIS_EXAMPLES", "10"))
# What a schema-valid request may be answered (see the module docstring for 400 and 402).
POSITIVE_ANSWERS = ["2xx", "400", "401", "402", "403", "404", "409", "429"]


@pytest.fixture
def nothing_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name and literal resolves to a private address: URLs are checked and refused, never reached;
    enqueued tasks are dropped."""

    def resolve(host: str, port: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", int(port or 80)))]

    monkeypatch.setattr("core.outbound.host_resolve", resolve)
    monkeypatch.setattr("core.outbound.address_connect", _no_connection)
    monkeypatch.setattr("core.queue._send", lambda *args, **kwargs: None)


def _no_connection(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the fuzzed API tried to open a connection")


def _world(api: APIClient) -> dict[str, list[str]]:
    """One object of each kind, in the API key's workspace: the ids path parameters and bodies draw from."""
    template, brand = make_template(api), make_brand(api)
    campaign = make_campaign(api)
    upload_json(api, campaign["id"], [{"first_name": "Ann"}, {"first_name": "Bob", "external_id": "c-2"}])
    render = request_render(api, template, brand, {"first_name": "Zoë"}).json()["id"]
    integration = api.post(
        "/api/v1/integrations/",
        {"kind": "generic", "template": template, "brand": brand, "field_map": {"firstname": "first_name"}},
        format="json",
    ).json()["id"]
    return {
        "template_id": [template],
        "brand_id": [brand],
        "campaign_id": [campaign["id"]],
        "render_id": [render],
        "integration_id": [integration],
        "version": ["1"],
    }


def _config(api: APIClient, ids: dict[str, list[str]]) -> SchemathesisConfig:
    key = api_key_for(api.workspace)  # type: ignore[attr-defined]
    return SchemathesisConfig.from_dict(
        {
            # One request per connection: no request thread of the live server outlives its answer (a
            # kept-alive one would close its SQLite connection after the test has stopped sharing it).
            "headers": {"Authorization": f"Bearer {key}", "Connection": "close"},
            "workers": 1,
            "cache": {"enabled": False},  # nothing written under the repository (.schemathesis/)
            "generation": {"max-examples": EXAMPLES, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_ANSWERS}},
            "dictionaries": {name: {"values": values} for name, values in ids.items()},
            "parameters": {
                **{f"path.{name}": {"dictionary": name, "probability": 0.8} for name in ids},
                "body.template": {"dictionary": "template_id", "probability": 0.8},
                "body.brand": {"dictionary": "brand_id", "probability": 0.8},
            },
        }
    )


def _describe(label: str, node: Any) -> str:
    info = node.failure_info
    return f"{label}: {node.name}: {info.failure.title}\n{info.failure.message}\n{info.code_sample}"


def test_the_api_is_what_its_document_says(api: APIClient, nothing_leaves: None, live_server: Any) -> None:
    config = _config(api, _world(api))
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/", config=config)
    problems: list[str] = []
    calls = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, engine_events.ScenarioFinished | engine_events.FuzzScenarioFinished):
            calls += len(event.recorder.interactions)
            for nodes in event.recorder.checks.values():
                problems += [_describe(event.recorder.label, n) for n in nodes if n.status == Status.FAILURE]
        elif isinstance(event, engine_events.NonFatalError):
            problems.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, engine_events.FatalError):
            problems.append(f"fatal: {event.exception!r}")
        elif isinstance(event, engine_events.EngineFinished):
            problems += [f"after run: {failure.title}: {failure.message}" for failure in event.failures]
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} problems in {calls} calls:\n\n" + "\n\n".join(unique[:40])
    assert calls > 100
    print(f"schemathesis: {calls} calls, 0 problems")  # shown with -s: how much was exercised
