"""What a Cloud Run service really serves, read through Google's Cloud Run client.

`template.containers[0].image` names the *next* revision's image, not what serves: after a
traffic-only rollback it still names the bad image. What serves is found by following
`traffic_statuses[*].revision` to each revision's `containers[0].image`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as gexc

from netra_ops.cloud.clients import api_errors, revisions_client, service_name, services_client
from netra_ops.config import Environment
from netra_ops.errors import ServiceNotFoundError

if TYPE_CHECKING:
    import pandas as pd
    from google.cloud import run_v2

__all__ = ["KNOWN_BAD", "KNOWN_GOOD", "RevisionInfo", "ServiceState", "read_service",
           "short_name"]

KNOWN_GOOD = "netra-ops/known-good"
"""Service annotation: the revisions that passed validation, newest first, comma-separated."""
KNOWN_BAD = "netra-ops/known-bad"
"""Service annotation: the revisions rolled back from, newest first, comma-separated."""


@dataclass(frozen=True)
class RevisionInfo:
    """One revision: its image, readiness and share of traffic, the env vars it runs with
    (`env`: literal values; one from Secret Manager reads as an empty string), and what it
    runs with as the Revision resource reports it (`memory` and `cpu` of resources.limits,
    the request `timeout_s`, the `concurrency`; empty or 0 when the API reports none)."""

    name: str
    image: str
    ready: bool
    percent: int
    created: datetime | None
    reason: str = ""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    memory: str = ""
    cpu: str = ""
    timeout_s: float = 0.0
    concurrency: int = 0
    session_affinity: bool = False
    http2: bool = False  # end-to-end HTTP/2: its container port is named h2c


@dataclass(frozen=True)
class ServiceState:
    """A service as the API describes it, with what serves resolved through revisions.

    `uri` is the service's main URL and `urls` every URL Cloud Run serves it at (`uri`
    among them), as `services.get` answers.
    """

    name: str
    uri: str
    template_image: str
    template_env: dict[str, str]
    template_limits: dict[str, str]
    traffic_latest: bool
    latest_ready: str
    latest_created: str
    revisions: tuple[RevisionInfo, ...] = field(default=())
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    template_timeout_s: float = 0.0
    template_concurrency: int = 0
    template_session_affinity: bool = False

    @property
    def known_good(self) -> tuple[str, ...]:
        """Revisions recorded on the service as having passed validation, newest first."""
        return _listed(self.annotations.get(KNOWN_GOOD, ""))

    @property
    def known_bad(self) -> tuple[str, ...]:
        """Revisions recorded on the service as rolled back from, newest first."""
        return _listed(self.annotations.get(KNOWN_BAD, ""))

    @property
    def serving(self) -> dict[str, int]:
        """Revision short name -> percent, for revisions with traffic."""
        return {r.name: r.percent for r in self.revisions if r.percent > 0}

    @property
    def serving_revision(self) -> str | None:
        """The revision with the largest share of traffic."""
        serving = self.serving
        return max(serving, key=lambda name: serving[name]) if serving else None

    @property
    def serving_image(self) -> str | None:
        """The image of the revision with the largest share of traffic."""
        revision = self.serving_revision
        return self.revision(revision).image if revision else None

    @property
    def serving_info(self) -> RevisionInfo | None:
        """The revision with the largest share of traffic, as the API reports it."""
        revision = self.serving_revision
        return self.revision(revision) if revision else None

    def revision(self, name: str) -> RevisionInfo:
        """A revision by short name; ServiceNotFoundError lists the known ones."""
        for info in self.revisions:
            if info.name == name:
                return info
        known = ", ".join(r.name for r in self.revisions) or "none"
        raise ServiceNotFoundError(f"service {self.name} has no revision {name!r} ({known})")

    def summary(self) -> dict[str, Any]:
        """What an audit entry keeps: template image, serving split and images."""
        return {"template_image": self.template_image, "serving": self.serving,
                "serving_images": {n: self.revision(n).image for n in self.serving},
                "traffic_latest": self.traffic_latest,
                "known_good": list(self.known_good), "known_bad": list(self.known_bad)}

    def to_frame(self) -> pd.DataFrame:
        """One row per revision, newest first, with what the service records of it
        (`known`: good, bad or empty)."""
        import pandas as pd

        return pd.DataFrame([{**{k: v for k, v in asdict(r).items() if k != "env"},
                               "known": self.known(r.name)} for r in self.revisions])

    def known(self, name: str) -> str:
        """`good`, `bad` or `""`: what the service's annotations record of a revision."""
        return "bad" if name in self.known_bad else "good" if name in self.known_good else ""


def short_name(resource_name: str) -> str:
    """`projects/p/locations/l/services/s/revisions/r` -> `r`."""
    return resource_name.rsplit("/", 1)[-1]


def read_service(env: Environment, role: str = "backend") -> ServiceState:
    """The service's template, traffic and revisions, newest revision first."""
    name = service_name(env, role)
    with api_errors(env, f"reading service {name}"):
        try:
            service = services_client(env).get_service(name=name)
            revisions = list(revisions_client(env).list_revisions(parent=name))
        except gexc.NotFound as exc:
            raise ServiceNotFoundError(
                f"service {name} not found ({exc.message}); check services.{role}.name, "
                f"project and region in {env.source or env.name}") from None
    return _state(service, revisions)


def _state(service: run_v2.Service, revisions: list[run_v2.Revision]) -> ServiceState:
    from google.cloud import run_v2

    percents = {short_name(t.revision): t.percent for t in service.traffic_statuses}
    container = service.template.containers[0] if service.template.containers else None
    infos = sorted((_revision_info(r, percents.get(short_name(r.name), 0)) for r in revisions),
                   key=lambda r: (r.created is not None, r.created), reverse=True)
    latest = any(t.type_ == run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
                 for t in service.traffic)
    return ServiceState(
        name=service.name, uri=service.uri,
        template_image=container.image if container else "",
        template_env={e.name: e.value for e in container.env} if container else {},
        template_limits=dict(container.resources.limits) if container else {},
        traffic_latest=latest,
        latest_ready=short_name(service.latest_ready_revision),
        latest_created=short_name(service.latest_created_revision),
        revisions=tuple(infos),
        annotations=dict(service.annotations),
        urls=tuple(service.urls),
        template_timeout_s=_seconds(service.template.timeout),
        template_concurrency=service.template.max_instance_request_concurrency,
        template_session_affinity=service.template.session_affinity,
    )


def _seconds(duration: Any) -> float:
    """Seconds of a Duration field as proto-plus gives it (a timedelta; None when unset)."""
    return duration.total_seconds() if duration else 0.0


def _listed(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _revision_info(revision: run_v2.Revision, percent: int) -> RevisionInfo:
    from google.cloud import run_v2

    ready = next((c for c in revision.conditions if c.type_ == "Ready"), None)
    is_ready = ready is not None and ready.state == run_v2.Condition.State.CONDITION_SUCCEEDED
    reason = "" if is_ready or ready is None else ready.message
    container = revision.containers[0] if revision.containers else None
    limits = dict(container.resources.limits) if container else {}
    created = revision.create_time if revision.create_time else None
    env = {e.name: e.value for e in container.env} if container else {}
    return RevisionInfo(short_name(revision.name), container.image if container else "",
                        is_ready, percent, created, reason, env, memory=limits.get("memory", ""),
                        cpu=limits.get("cpu", ""), timeout_s=_seconds(revision.timeout),
                        concurrency=revision.max_instance_request_concurrency,
                        session_affinity=revision.session_affinity,
                        http2=bool(container and container.ports
                                   and container.ports[0].name == "h2c"))
