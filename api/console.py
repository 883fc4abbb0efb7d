"""The auditor/HR web console, served by the API itself at `/console/`.

The console is static files (`api/console/`: HTML, CSS, plain ES modules, no build step and
nothing fetched from elsewhere at runtime) that call the same public query routes as any
other client, with the user's bearer token. Serving it from the API keeps it on the API's
origin, so no CORS is needed and the token never leaves that origin.

It needs one thing the query routes did not offer: the names behind employee ids (the
chain and the liabilities only carry ids, and HR picks people by name). `GET /v1/employees`
answers the tenant's directory as the org history stands now (`ReadModels.employees`;
capability `read_liabilities`; a manager gets the employees of their units). The
console's files are public (they hold no data); every route they call needs the token.

`mount_console(app)` is the only thing `api.app` calls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.types import Scope

from api import examples
from api.caller import LiabilityReader
from api.problems import AUTHENTICATED, problems
from api.responses import OrjsonResponse
from projections.reads import directory

__all__ = ["directory", "mount_console", "router"]  # directory: the rule, tested from here

ASSETS = Path(__file__).with_name("console")

#: The console loads only its own files and talks only to its own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class EmployeeOut(BaseModel):
    employee_id: str
    name: str | None = Field(description="The latest name recorded for the employee.")
    unit_id: str | None = Field(description="The unit now (null once departed).")
    supervisor_id: str | None
    title: str | None
    departed: bool
    since: str = Field(description="Business time of the assignment (or departure) in force.")


class EmployeeDirectory(BaseModel):
    items: list[EmployeeOut] = Field(description="Ordered by employee id.")


router = APIRouter(tags=["queries"], responses=problems(*AUTHENTICATED))


@router.get("/v1/employees", response_model=EmployeeDirectory,
            summary="The tenant's employee directory",
            responses={200: examples.ok(examples.EMPLOYEES)})
def get_employees(caller: LiabilityReader) -> Response:
    """The tenant's employees with their names and current unit: what a person picker and
    the display of names behind ids need (a manager: the employees of their units)."""
    people = [p for p in caller.reads.employees(caller.tenant)
              if caller.sees_employee(p["employee_id"])]
    return OrjsonResponse({"items": people})


class ConsoleFiles(StaticFiles):
    """Static files with the console's security headers on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response: Response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_console(app: FastAPI) -> None:
    """Serve the console at `/console/` and add the directory route it reads names from.

    The console's files are a mount, not routes: they must load before anyone signs in, so
    no route dependency (such as bearer auth) may apply to them; `/console/` answers the
    index page and `/console` is redirected there by the router.
    """
    app.include_router(router)
    app.mount("/console", ConsoleFiles(directory=ASSETS, html=True), name="console")
