"""What the API adds for the web console: the console's files at /console/ and the employee
directory (GET /v1/employees) the console reads names from; on SQLite and PostgreSQL.
The console itself, in a browser, is tested in tests/browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import directory
from api.queries import ReadSide
from ledger.application.recording import Ledger
from ledger.config import Settings
from ledger.domain.access import Role
from projections.runner import Projections
from tests.support.api import bearer, issue

WORKED_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "worked-examples.jsonl"


@pytest.fixture
def client(ledger: Ledger, settings: Settings) -> Iterator[TestClient]:
    lines = WORKED_EXAMPLES.read_bytes().splitlines()
    outcomes = ledger.record([orjson.loads(line) for line in lines if line.strip()])
    assert all(o.as_dict()["status"] == "recorded" for o in outcomes)
    projections = Projections(ledger.store, store_name=settings.store_name)
    projections.catch_up()
    app = create_app(ledger, read_side=ReadSide(ledger, projections=projections))
    with TestClient(app) as test_client:
        yield test_client
    projections.drop()


def test_the_directory_gives_each_employee_their_name_and_the_unit_they_are_in_now(
    client: TestClient,
) -> None:
    response = client.get("/v1/employees", headers=bearer(issue(client)))

    assert response.status_code == 200, response.text
    people = {p["employee_id"]: p for p in response.json()["items"]}
    assert list(people) == sorted(people)
    assert people["e-li"] == {  # E4: moved from Zhang's team to Wang's on 10 March
        "employee_id": "e-li", "name": "李娜 Li Na", "unit_id": "sales-2",
        "supervisor_id": "e-wang", "title": None, "departed": False,
        "since": "2026-03-10T09:00:00+08:00",
    }
    assert people["e-zhang"]["name"] == "张伟 Zhang Wei"


def test_the_directory_of_another_tenant_is_empty(client: TestClient) -> None:
    response = client.get("/v1/employees", headers=bearer(issue(client, tenant="globex")))

    assert response.status_code == 200
    assert response.json() == {"items": []}


def test_the_directory_needs_a_token(client: TestClient) -> None:
    response = client.get("/v1/employees")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_manager_finds_only_the_employees_of_their_units_in_the_directory(
    client: TestClient,
) -> None:
    manager = bearer(issue(client, Role.MANAGER, unit="plant"))

    people = client.get("/v1/employees", headers=manager).json()["items"]

    assert [p["employee_id"] for p in people] == ["e-he", "e-wu"]


def test_the_console_itself_needs_no_token(client: TestClient) -> None:
    assert client.get("/console/").status_code == 200
    assert client.get("/console/js/api.js").status_code == 200


def test_the_console_is_served_from_the_api_and_may_load_only_its_own_files(
    client: TestClient,
) -> None:
    redirect = client.get("/console", follow_redirects=False)
    index = client.get("/console/")
    script = client.get("/console/js/main.js")

    assert redirect.status_code in (307, 308)
    assert redirect.headers["location"].endswith("/console/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/js/main.js">' in index.text
    for response in (index, script):
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/js/no-such-file.js").status_code == 404


def test_the_console_pages_stay_out_of_the_openapi_document_and_the_directory_is_in_it(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/v1/employees" in paths
    assert not [path for path in paths if path.startswith("/console")]


def _row(employee_id: str, event: str, at: str, **data: Any) -> dict[str, Any]:
    return {"employee_id": employee_id, "event": event, "valid_from": at,
            "valid_from_utc": at, "source": "oa/hr", "event_id": f"{employee_id}-{at}",
            "name": data.get("name"), "unit_id": data.get("unit_id"),
            "supervisor_id": data.get("supervisor_id"), "title": data.get("title")}


def test_a_departed_employee_keeps_their_name_and_has_no_unit() -> None:
    rows = [
        _row("e-wu", "departed", "2026-06-01T00:00:00Z"),
        _row("e-wu", "assigned", "2026-01-01T00:00:00Z", name="吴强 Wu Qiang", unit_id="plant",
             supervisor_id="e-he"),
    ]

    assert directory(rows) == [{
        "employee_id": "e-wu", "name": "吴强 Wu Qiang", "unit_id": None, "supervisor_id": None,
        "title": None, "departed": True, "since": "2026-06-01T00:00:00Z",
    }]
