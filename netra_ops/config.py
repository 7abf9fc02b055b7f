"""Environments as data: the model of `environments/*.toml` and how a name becomes a file.

An environment names a Google Cloud project (or the local sandbox that stands in for one),
its three services, the credentials the probes use (as references, never values), the
configuration the backend is expected to carry (seed 2.1), the rollback triggers (seed 4.1)
and the success criteria (seed "Critical Success Metrics").

Names are looked up, in order, in `$NETRA_OPS_ENVIRONMENTS`, `./environments` and the
`environments/` folder beside the installed package; anything containing a path separator
or ending in `.toml` is read as a path. An empty name is the default environment:
`$NETRA_OPS_ENV`, else `sandbox` (the runbooks' parameters cells say `environment = ""`).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from netra_ops.errors import ConfigError, EnvironmentNotFoundError
from netra_ops.secrets import SecretRef

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_MIGRATION_PATHS",
    "ENVIRONMENT_VARIABLE",
    "REMOTE_PREFIXES",
    "Credentials",
    "Criterion",
    "Dependencies",
    "Environment",
    "Gate",
    "Preflight",
    "Release",
    "SandboxSettings",
    "Service",
    "TriggerRule",
    "cloud_run_problem",
    "default_environment",
    "environment_search_path",
    "list_environments",
    "load_environment",
    "remote_checkout_dir",
]

Comparison = Literal["<", "<=", ">", ">="]
Aggregation = Literal["mean", "min", "max", "last", "sum", "count", "p50", "p90", "p95", "p99"]
ServiceRole = Literal["backend", "auth", "frontend"]
SANDBOX_ROLES: tuple[str, ...] = ("auth", "frontend", "backend", "api", "monitoring")
OPTIONAL_SANDBOX_ROLES: tuple[str, ...] = ()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Model):
    """One Cloud Run service of the platform, and what its revisions get: `memory` and
    `cpu` (resources.limits), the request `timeout_s` and `concurrency` (requests an
    instance takes at once), with Cloud Run's defaults and within its limits
    (`cloud_run_problem`), and `session_affinity` (off by default, as on Cloud Run; Google's
    WebSocket guidance asks for it on the service that holds chat sessions)."""

    name: str
    url: str = ""
    health_path: str = "/health"
    websocket_path: str | None = None
    memory: str = "512Mi"
    cpu: float = 1.0
    timeout_s: int = 300
    concurrency: int = 80
    session_affinity: bool = False

    @field_validator("url")
    @classmethod
    def _url_has_scheme(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("memory")
    @classmethod
    def _memory_is_quantity(cls, value: str) -> str:
        memory_bytes(value)
        return value

    @model_validator(mode="after")
    def _within_cloud_run_limits(self) -> Service:
        problem = cloud_run_problem(self.memory, self.cpu, self.timeout_s, self.concurrency)
        if problem:
            raise ValueError(f"service {self.name}: {problem}")
        return self

    @property
    def memory_limit_bytes(self) -> int:
        """The memory limit in bytes (Cloud Run quantities: 512Mi, 4Gi, ...)."""
        return memory_bytes(self.memory)

    @property
    def limits(self) -> dict[str, str]:
        """`resources.limits` of the service's revisions: `{"memory": "4Gi", "cpu": "4"}`."""
        return {"memory": self.memory, "cpu": f"{self.cpu:g}"}

    @property
    def websocket_url(self) -> str:
        """The `ws://` or `wss://` address of the service's WebSocket endpoint."""
        if self.websocket_path is None:
            raise ConfigError(f"service {self.name} has no websocket_path in its environment")
        scheme = "wss://" if self.url.startswith("https://") else "ws://"
        return scheme + self.url.split("://", 1)[1] + self.websocket_path


class Credentials(_Model):
    """The test user the probes log in as; the password is a reference, never a value."""

    email: str
    password: SecretRef


class Dependencies(_Model):
    """The data stores of seed 2.2 (PostgreSQL, Redis), as connection-string secret references.

    A connection string carries a password, so it is named by reference (`env:NAME`,
    `file:PATH`), never written here. Unless `required`, a dependency without a reference,
    or whose reference does not resolve, is reported "not configured" instead of failing.
    """

    postgres: SecretRef | None = None
    redis: SecretRef | None = None
    required: bool = False


class SandboxSettings(_Model):
    """Where and how the local sandbox runs (only for `kind = "sandbox"`)."""

    host: str = "127.0.0.1"
    state_dir: Path = Path("../.sandbox")
    initial_image: str
    ports: dict[str, int]
    startup_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("ports")
    @classmethod
    def _all_roles_have_ports(cls, value: dict[str, int]) -> dict[str, int]:
        missing = [role for role in SANDBOX_ROLES if role not in value]
        if missing:
            raise ValueError(f"missing port for {', '.join(missing)}")
        unknown = sorted(set(value) - set(SANDBOX_ROLES) - set(OPTIONAL_SANDBOX_ROLES))
        if unknown:
            roles = SANDBOX_ROLES + OPTIONAL_SANDBOX_ROLES
            raise ValueError(f"unknown role {', '.join(unknown)}; roles are {', '.join(roles)}")
        for role, port in value.items():
            if not 1 <= port <= 65535:
                raise ValueError(f"port for {role} must be 1-65535, got {port}")
        if len(set(value.values())) != len(value):
            raise ValueError("two roles share a port")
        return value

    def url(self, role: str) -> str:
        """The loopback URL of a sandbox role (auth, frontend, backend, api; monitoring
        speaks gRPC: its client wants `endpoint("monitoring")`)."""
        return f"http://{self.host}:{self.ports[role]}"

    def endpoint(self, role: str) -> str:
        """`host:port` of a sandbox role (a gRPC target)."""
        return f"{self.host}:{self.ports[role]}"


class TriggerRule(_Model):
    """A rollback trigger (seed 4.1): roll back when `metric` compares true for `for_s`.

    At each evaluation the rule's samples in the window (t - window_s, t] are reduced with
    `aggregation` (`mean` is weighted by each sample's observation count); fewer than
    `min_samples` observations make the rule `inconclusive`, never `ok`. The condition must
    hold for `for_s` before the rule fires. `where` keeps samples whose labels equal the given
    values, `source` keeps one source's samples (default: the most preferred source that has
    data), `group_by` evaluates each label group apart (e.g. each revision) and reports the
    worst. A `dry_run` rule is evaluated and shown but never asks for a rollback.
    """

    name: str
    metric: str
    aggregation: Aggregation = "mean"
    comparison: Comparison
    threshold: float
    unit: str = ""
    window_s: float = Field(default=300.0, gt=0)
    for_s: float = Field(default=0.0, ge=0, alias="for_s")
    min_samples: int = Field(default=1, ge=1)
    dry_run: bool = False
    where: dict[str, str] = Field(default_factory=dict)
    source: str | None = None
    group_by: list[str] = Field(default_factory=list)
    section: str = "4.1"
    description: str = ""


class Criterion(_Model):
    """A success criterion (seed "Critical Success Metrics"): passes when value compares true.

    `series` and `aggregation` say how the value is computed from a frame of samples
    (`netra_ops.metrics.criteria_values`); unset, the built-in summary of `metric` is used.
    """

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    unit: str = ""
    section: str = ""
    description: str = ""
    series: str | None = None
    aggregation: Aggregation | None = None


class Gate(_Model):
    """A command that must exit 0 before a deploy (seed 1.1: compliance and env checks)."""

    name: str
    command: list[str] = Field(min_length=1)
    timeout_s: float = Field(default=300.0, gt=0)


DEFAULT_MIGRATION_PATHS = ("netra_backend/app/alembic/versions", "app/alembic/versions")
"""Where Netra keeps its Alembic migrations (its `alembic.ini` script_location, now and before
the backend moved under netra_backend/)."""

REMOTE_PREFIXES = ("https://", "http://", "ssh://", "git://", "file://", "git@")
"""How a `[preflight] repository` that is a git remote URL (fetched first) begins."""


class Preflight(_Model):
    """What seed 1.1 verifies before deploying: the release branch and the gates.

    In the file, `repository` is the code to deploy: a local checkout (a path, relative to
    the file) or a git remote URL. A URL becomes `remote` (fetched before the checks) and
    `repository` the local checkout it is fetched into: the file's `checkout`, else
    `remote_checkout_dir(url)`.

    `migration_paths` are the folders (relative to the repository) whose files are database
    migrations: one changed by the release is a risk the preflight asks to acknowledge.
    """

    repository: Path | None = None
    remote: str | None = None
    release_branch: str = "develop-long-lived"
    base_branch: str = "main"
    gates: list[Gate] = Field(default_factory=list)
    migration_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_MIGRATION_PATHS))


def remote_checkout_dir(url: str) -> Path:
    """Where a remote repository is fetched when the file names no `checkout`:
    `$XDG_CACHE_HOME/netra-ops/checkouts/NAME` (`~/.cache` without it)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git") or "repository"
    return base / "netra-ops" / "checkouts" / name


class Release(_Model):
    """What the remediation deploys (seed 1.2): the fixed build's image of each service.

    `image` is the backend's; `images` names the image of any service (`[release.images]`
    in the file, e.g. `auth = ".../netra-auth:develop-long-lived"`), the backend's too.
    """

    image: str | None = None
    images: dict[ServiceRole, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_backend_image(self) -> Release:
        named = self.images.get("backend")
        if self.image and named and named != self.image:
            raise ValueError(f"[release] image ({self.image}) and [release.images] backend "
                             f"({named}) differ; keep one of them")
        return self

    def image_for(self, role: ServiceRole) -> str | None:
        """The release image of the service in `role`; None when the file names none."""
        return self.images.get(role) or (self.image if role == "backend" else None)


_BUCKET_URL = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/[^/]+)*/?$")


class Environment(_Model):
    """A deployment target: the sandbox or a Google Cloud project."""

    name: str
    kind: Literal["sandbox", "gcp"]
    project: str
    region: str
    allow_changes: bool = False
    api_endpoint: str | None = None
    monitoring_endpoint: str | None = None
    records_url: str | None = None
    """Where runs write their records: `gs://BUCKET/PREFIX` (through Cloud Storage), or a
    local folder; None: `$NETRA_OPS_OUTPUTS`, else `./outputs`."""
    services: dict[ServiceRole, Service]
    credentials: Credentials
    expected_env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretRef] = Field(default_factory=dict)
    dependencies: Dependencies = Field(default_factory=Dependencies)
    rollback_triggers: list[TriggerRule] = Field(default_factory=list)
    success_criteria: list[Criterion] = Field(default_factory=list)
    preflight: Preflight = Field(default_factory=Preflight)
    release: Release = Field(default_factory=Release)
    sandbox: SandboxSettings | None = None
    source: Path | None = None

    @field_validator("records_url")
    @classmethod
    def _records_url_is_a_bucket_or_folder(cls, value: str | None) -> str | None:
        if value and value.startswith("gs:") and not _BUCKET_URL.match(value):
            raise ValueError(f"records_url {value!r} is not gs://BUCKET[/PREFIX] (a bucket "
                             "name of 3-222 lowercase letters, digits, '-', '_', '.')")
        return value or None

    @model_validator(mode="after")
    def _secret_env_is_not_also_plain(self) -> Environment:
        both = sorted(set(self.secret_env) & set(self.expected_env))
        if both:
            raise ValueError(f"{', '.join(both)} in both [expected_env] and [secret_env]; a "
                             "secret's expected value belongs in [secret_env] only")
        return self

    @property
    def backend(self) -> Service:
        """The backend service (the one that serves the WebSocket)."""
        return self.services["backend"]

    @property
    def auth(self) -> Service:
        """The auth service."""
        return self.services["auth"]

    @property
    def frontend(self) -> Service:
        """The frontend service."""
        return self.services["frontend"]

    def criterion(self, name: str) -> Criterion:
        """The success criterion of that name; ConfigError names the known ones."""
        for item in self.success_criteria:
            if item.name == name:
                return item
        known = ", ".join(c.name for c in self.success_criteria) or "none"
        raise ConfigError(f"environment {self.name} has no success criterion {name!r} ({known})")


_CLOUD_RUN_CPUS = (1.0, 2.0, 4.0, 6.0, 8.0)
# Cloud Run's minimum CPU for a memory limit: more than the first (bytes) needs the second.
_MIN_CPU_FOR_MEMORY = ((24 * 2**30, 8.0), (16 * 2**30, 6.0), (8 * 2**30, 4.0),
                       (4 * 2**30, 2.0), (2**30, 1.0), (512 * 2**20, 0.583),
                       (256 * 2**20, 0.333), (128 * 2**20, 0.167))
# ... and its minimum memory for a CPU count (4 CPUs need 2Gi; 6 and 8 need 4Gi).
_MIN_MEMORY_FOR_CPU = ((6.0, 4 * 2**30), (4.0, 2 * 2**30))


def cloud_run_problem(memory: str, cpu: float, timeout_s: int, concurrency: int) -> str:
    """What Cloud Run would refuse in these settings of a service ("" when none): CPU
    0.08-1 or 1, 2, 4, 6, 8; memory 128Mi-32Gi with the CPU it needs (more than 4Gi: 2
    CPUs, 8Gi: 4, 16Gi: 6, 24Gi: 8; 4 CPUs need 2Gi); request timeout 1-3600 s;
    concurrency 1-1000, and 1 below one CPU."""
    size = memory_bytes(memory)
    if not (0.08 <= cpu < 1 or cpu in _CLOUD_RUN_CPUS):
        return f"cpu {cpu:g} is not one Cloud Run offers (0.08 to 1, or 1, 2, 4, 6, 8)"
    if not 128 * 2**20 <= size <= 32 * 2**30:
        return f"memory {memory} is outside Cloud Run's 128Mi to 32Gi"
    needed = next((cores for above, cores in _MIN_CPU_FOR_MEMORY if size > above), 0.08)
    if cpu < needed:
        return f"memory {memory} needs at least {needed:g} CPU on Cloud Run, cpu is {cpu:g}"
    floor = next((least for cores, least in _MIN_MEMORY_FOR_CPU if cpu >= cores), 0)
    if size < floor:
        return f"cpu {cpu:g} needs at least {floor // 2**30}Gi of memory on Cloud Run"
    if not 1 <= timeout_s <= 3600:
        return f"timeout_s {timeout_s} is outside Cloud Run's 1 to 3600 seconds"
    if not 1 <= concurrency <= 1000:
        return f"concurrency {concurrency} is outside Cloud Run's 1 to 1000"
    if cpu < 1 and concurrency != 1:
        return (f"cpu {cpu:g} (below one) takes one request at a time on Cloud Run: set "
                "concurrency = 1")
    return ""


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes-style quantity such as `512Mi`, `4Gi` or `1G`."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6,
             "G": 10**9, "T": 10**12}
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if quantity.endswith(suffix) and quantity[: -len(suffix)].replace(".", "", 1).isdigit():
            return int(float(quantity[: -len(suffix)]) * factor)
    if quantity.isdigit():
        return int(quantity)
    raise ValueError(f"not a memory quantity (like 512Mi or 4Gi): {quantity!r}")


DEFAULT_ENVIRONMENT = "sandbox"
ENVIRONMENT_VARIABLE = "NETRA_OPS_ENV"
"""The variable naming the default environment of the CLI (every --env) and the runbooks."""


def default_environment() -> str:
    """The environment an empty name means: `$NETRA_OPS_ENV` when set, else `sandbox`."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "").strip() or DEFAULT_ENVIRONMENT


def environment_search_path() -> list[Path]:
    """The folders searched, in order, for `<name>.toml`."""
    folders = []
    if override := os.environ.get("NETRA_OPS_ENVIRONMENTS"):
        folders.append(Path(override))
    folders.append(Path.cwd() / "environments")
    folders.append(Path(__file__).resolve().parent.parent / "environments")
    unique: list[Path] = []
    for folder in folders:
        if folder.resolve() not in [f.resolve() for f in unique]:
            unique.append(folder)
    return unique


def list_environments() -> list[str]:
    """Names of the environments found on the search path."""
    names = {p.stem for folder in environment_search_path() if folder.is_dir()
             for p in folder.glob("*.toml")}
    return sorted(names)


def find_environment_file(name_or_path: str | os.PathLike[str]) -> Path:
    """The file an environment name or path refers to (empty: `default_environment()`)."""
    text = os.fspath(name_or_path).strip() or default_environment()
    source = f" (from ${ENVIRONMENT_VARIABLE})" if text == os.environ.get(
        ENVIRONMENT_VARIABLE, "").strip() else ""
    if os.sep in text or "/" in text or text.endswith(".toml"):
        path = Path(text)
        if not path.is_file():
            raise EnvironmentNotFoundError(f"environment file {path}{source} does not exist")
        return path.resolve()
    for folder in environment_search_path():
        candidate = folder / f"{text}.toml"
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(list_environments()) or "none found"
    raise EnvironmentNotFoundError(
        f"unknown environment {text!r}{source}: known environments are {known} "
        f"(searched {', '.join(str(f) for f in environment_search_path())})"
    )


def load_environment(
    name_or_path: str | os.PathLike[str] | Environment = "",
) -> Environment:
    """Load and validate an environment by name (`sandbox`, `staging`) or by path; an
    already loaded Environment is returned as it is; an empty name (the default) is
    `default_environment()`: `$NETRA_OPS_ENV`, else `sandbox`."""
    if isinstance(name_or_path, Environment):
        return name_or_path
    path = find_environment_file(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return environment_from_data(data, path)


def environment_from_data(data: dict[str, Any], path: Path) -> Environment:
    """Validate parsed TOML; relative paths are taken from the file's folder."""
    data = _anchor_paths(_with_sandbox_defaults(data, path.parent), path.parent)
    data = _anchor_secret_refs(data, path.parent)
    try:
        env = Environment.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise ConfigError(_one_line(path, exc)) from None
    return env


def _anchor_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative paths in the file are taken from the file's folder."""
    preflight = data.get("preflight")
    if not isinstance(preflight, dict):
        return data
    anchored = {k: v for k, v in preflight.items() if k != "checkout"}
    repository, checkout = preflight.get("repository"), preflight.get("checkout")
    if isinstance(repository, str) and repository.startswith(REMOTE_PREFIXES):
        anchored["remote"] = repository
        anchored["repository"] = str((folder / checkout).resolve()) if isinstance(
            checkout, str) else str(remote_checkout_dir(repository))
    elif isinstance(repository, str):
        anchored["repository"] = str((folder / repository).resolve())
    return {**data, "preflight": anchored}


def _anchor_secret_refs(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Relative `file:` references of [dependencies] and [secret_env] are taken from the
    file's folder."""
    out = dict(data)
    for table in ("dependencies", "secret_env"):
        section = data.get(table)
        if isinstance(section, dict):
            out[table] = {key: _anchored_file_ref(value, folder)
                          for key, value in section.items()}
    return out


def _anchored_file_ref(value: Any, folder: Path) -> Any:
    if isinstance(value, str) and value.startswith("file:") and len(value) > len("file:"):
        return f"file:{(folder / value[len('file:'):]).resolve()}"
    return value


def _with_sandbox_defaults(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fill sandbox service URLs from its ports and anchor relative paths at `folder`."""
    sandbox = data.get("sandbox")
    if data.get("kind") != "sandbox" or not isinstance(sandbox, dict):
        return data
    sandbox = dict(sandbox)
    sandbox["state_dir"] = str((folder / sandbox.get("state_dir", "../.sandbox")).resolve())
    host = sandbox.get("host", "127.0.0.1")
    ports = sandbox.get("ports", {})
    services = {role: dict(svc) for role, svc in data.get("services", {}).items()
                if isinstance(svc, dict)}
    for role, svc in services.items():
        if not svc.get("url") and isinstance(ports.get(role), int):
            svc["url"] = f"http://{host}:{ports[role]}"
    out = {**data, "sandbox": sandbox, "services": services or data.get("services")}
    preflight = data.get("preflight", {})
    if isinstance(preflight, dict) and "repository" not in preflight:
        rehearsal = str(Path(sandbox["state_dir"]) / "netra-repo")
        out["preflight"] = {**preflight, "repository": rehearsal}
    if not out.get("api_endpoint") and isinstance(ports.get("api"), int):
        out["api_endpoint"] = f"http://{host}:{ports['api']}"
    if not out.get("monitoring_endpoint") and isinstance(ports.get("monitoring"), int):
        out["monitoring_endpoint"] = f"{host}:{ports['monitoring']}"
    return _anchor_file_secrets(out, folder)


def _anchor_file_secrets(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    creds = data.get("credentials")
    if isinstance(creds, dict) and str(creds.get("password", "")).startswith("file:"):
        rel = str(creds["password"])[len("file:"):]
        creds = {**creds, "password": f"file:{(folder / rel).resolve()}"}
        return {**data, "credentials": creds}
    return data


def _one_line(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"key '{key}': {message}")
    if len(problems) == 1:
        return f"{path}: {problems[0]}"
    return f"{path}: {problems[0]} (and {len(problems) - 1} more: {'; '.join(problems[1:])})"
