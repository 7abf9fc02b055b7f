"""Does the principal hold what each runbook needs? Asked, never guessed: `testIamPermissions`.

Service-scoped permissions go to Cloud Run's `services.testIamPermissions` on the backend
service, project-scoped ones to Resource Manager's `projects.testIamPermissions` (both
answer with the subset the caller holds; neither needs a permission to be asked). On the
sandbox both answer from its one granted set (`GET|PUT /_sandbox/iam`).

One row per permission: held, missing (with the runbooks that need it and the predefined
role that grants it, as a gcloud command), or, in a read-only environment, a change
permission that is missing but not needed. When a question cannot be asked at all, one row
says why and the permissions it covered are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.api_core import exceptions as gexc

from netra_ops.checks import Check, skipped
from netra_ops.cloud import call, projects_client, service_name, services_client
from netra_ops.cloud.clients import storage_client
from netra_ops.cloud.storage import held_on_bucket, parse_bucket_url
from netra_ops.config import Environment
from netra_ops.doctor.apis import PROBLEMS, failure_fix
from netra_ops.doctor.requirements import (
    BUCKET_REQUIREMENTS,
    BUCKET_ROLE,
    REQUIREMENTS,
    Requirement,
)
from netra_ops.errors import NetraOpsError

__all__ = ["bucket_checks", "held_on_project", "held_on_service", "permission_checks"]


def held_on_service(env: Environment, permissions: Sequence[str],
                    timeout_s: float = 10.0) -> set[str]:
    """The permissions the principal holds on the backend service (Cloud Run)."""
    answer = call(env, "asking Cloud Run for permissions", lambda: services_client(env)
                  .test_iam_permissions(request={"resource": service_name(env),
                                                 "permissions": list(permissions)},
                                        timeout=timeout_s, retry=None))
    return set(answer.permissions)


def held_on_project(env: Environment, permissions: Sequence[str],
                    timeout_s: float = 10.0) -> set[str]:
    """The permissions the principal holds on the project (Resource Manager)."""
    answer = call(env, "asking Resource Manager for permissions", lambda: projects_client(env)
                  .test_iam_permissions(resource=f"projects/{env.project}",
                                        permissions=list(permissions), timeout=timeout_s,
                                        retry=None))
    return set(answer.permissions)


def permission_checks(env: Environment, member: str | None, timeout_s: float) -> list[Check]:
    """One row per requirement (REQUIREMENTS order), plus a failed row for each question
    that could not be asked."""
    rows: dict[str, Check] = {}
    failures = []
    for scope, ask, api in (("service", held_on_service, "run"),
                            ("project", held_on_project, "cloudresourcemanager")):
        wanted = [r for r in REQUIREMENTS if r.scope == scope]
        try:
            held = ask(env, [r.permission for r in wanted], timeout_s)
        except PROBLEMS as exc:
            failures.append(_not_asked(env, scope, api, exc))
            rows.update({r.permission: _skipped(r, scope) for r in wanted})
            continue
        rows.update({r.permission: _row(env, r, r.permission in held, member)
                     for r in wanted})
    return failures + [rows[r.permission] for r in REQUIREMENTS]


def _row(env: Environment, item: Requirement, held: bool, member: str | None) -> Check:
    name = f"permission {item.permission}"
    if held:
        return Check(name, True, f"held; needed by {item.needed_by()}")
    if item.changes and not env.allow_changes:
        return skipped(name, f"not held, and not needed while allow_changes = false "
                       f"(needed by {item.needed_by()})",
                       f"only to allow changes: {_grant(env, item, member)}")
    return Check(name, False, f"missing; needed by {item.needed_by()}; granted by "
                 f"{item.role}", fix=_grant(env, item, member))


def _grant(env: Environment, item: Requirement, member: str | None) -> str:
    command = (f"gcloud projects add-iam-policy-binding {env.project} "
               f"--member={member or 'PRINCIPAL'} --role={item.role}")
    text = f"grant {item.role} to the principal on project {env.project}: {command}"
    if env.kind == "sandbox":
        text += ('; on the sandbox: PUT /_sandbox/iam {"granted_permissions": null} grants '
                 "every permission again")
    return text


def _skipped(item: Requirement, scope: str) -> Check:
    return skipped(f"permission {item.permission}",
                   f"not asked: the {scope} permissions could not be asked (see above)")


def _not_asked(env: Environment, scope: str, api: str, exc: BaseException) -> Check:
    where = service_name(env) if scope == "service" else f"projects/{env.project}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Check(f"permissions on the {scope}", False,
                 f"testIamPermissions on {where} failed: {text[:300]}",
                 fix=failure_fix(env, exc, api, None))


def bucket_checks(env: Environment, url: str, member: str | None,
                  timeout_s: float) -> list[Check]:
    """The records bucket of `url` (`gs://BUCKET/PREFIX`): one row per permission records
    need there, each naming the least predefined role that grants it; one failed row when
    the bucket cannot be asked (missing, unreachable)."""
    try:
        bucket = parse_bucket_url(url).bucket
        held = held_on_bucket(env, storage_client(env), bucket,
                              [r.permission for r in BUCKET_REQUIREMENTS])
    except gexc.NotFound:
        return [Check("records bucket", False, f"{url}: the bucket does not exist (or this "
                      "principal cannot see it)", fix=f"create it (gcloud storage buckets "
                      f"create gs://{url[5:].split('/')[0]} --project={env.project}) or fix "
                      "records_url in the environment file")]
    except (*PROBLEMS, NetraOpsError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [Check("records bucket", False, f"testIamPermissions on {url} failed: "
                      f"{text[:300]}", fix=failure_fix(env, exc, "storage", None))]
    rows = [Check("records bucket", True, f"{url} answers")]
    for item in BUCKET_REQUIREMENTS:
        name = f"permission {item.permission}"
        if item.permission in held:
            rows.append(Check(name, True, f"held on gs://{bucket}; needed by "
                              f"{item.needed_by()}"))
        else:
            rows.append(Check(name, False, f"missing on gs://{bucket}; needed by "
                              f"{item.needed_by()}; granted by {item.role}",
                              fix=_bucket_grant(env, bucket, member)))
    return rows


def _bucket_grant(env: Environment, bucket: str, member: str | None) -> str:
    command = (f"gcloud storage buckets add-iam-policy-binding gs://{bucket} "
               f"--member={member or 'PRINCIPAL'} --role={BUCKET_ROLE}")
    text = (f"grant {BUCKET_ROLE} on the bucket (the least role with all four records "
            f"need): {command}")
    if env.kind == "sandbox":
        text += ('; on the sandbox: PUT /_sandbox/iam {"granted_permissions": null} grants '
                 "every permission again")
    return text
