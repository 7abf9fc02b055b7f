"""Cloud Resource Manager v3 emulation (REST): `projects.testIamPermissions`, nothing else.

    POST /v3/projects/P:testIamPermissions   {"permissions": [...]} -> the granted subset

Google's client, pointed here: `resourcemanager_v3.ProjectsClient(transport="rest",
credentials=AnonymousCredentials(), client_options={"api_endpoint": "http://HOST:PORT"})`.

Project-level permissions (`logging.logEntries.list`, `monitoring.timeSeries.list`,
`run.operations.get`, ...) are asked here, as on Google. The answer comes from the Cloud Run
emulation's granted set (`GET|PUT /_sandbox/iam`), so one configuration says what the
sandbox's principal holds, whichever API is asked. Another project: 403 PERMISSION_DENIED,
as Google answers for a project the caller cannot see; a malformed permission: 400.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from netra_ops.sandbox.google.errors import GoogleApiError, guarded, json_body
from netra_ops.sandbox.google.run_api import CloudRunEmulator

__all__ = ["resourcemanager_routes"]


def resourcemanager_routes(emulator: CloudRunEmulator) -> list[BaseRoute]:
    """The Starlette route of Resource Manager's `projects.testIamPermissions`."""

    async def test_permissions(request: Request) -> Response:
        project = request.path_params["project"]
        if project != emulator.names.project:
            raise GoogleApiError(403, "PERMISSION_DENIED", f"The caller does not have "
                                 f"permission on projects/{project} (the sandbox emulates "
                                 f"project '{emulator.names.project}' only).")
        return JSONResponse(emulator.test_permissions(await json_body(request)))

    return [Route("/v3/projects/{project}:testIamPermissions", guarded(test_permissions),
                  methods=["POST"])]
