"""Start, inspect and stop the local sandbox (`netra-ops sandbox up|status|down|logs`).

`up` starts the `platform` process in its own session, stdout and stderr to
`<state_dir>/logs/platform.log`: the routers of the three Cloud Run services (auth,
backend, frontend), the admin API and Google API emulation, the Monitoring gRPC server, and
the revisions of every service, which it spawns.
Their pids and start times go to `sandbox.json` as soon as each is spawned, so `down` can
always find them; `down` stops only a pid whose start time still matches the record (never
by name), and revisions from `revisions.json` too. `up` waits until every port answers:
HTTP 200 on the web ports, an HTTP/2 SETTINGS frame (gRPC) on the Monitoring port.

Every function takes an `Environment` of kind "sandbox" (ConfigError otherwise) and is plain
synchronous code: it works the same in a script, a Jupyter kernel or papermill.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import psutil

import netra_ops
from netra_ops.config import SANDBOX_ROLES, Environment, SandboxSettings, ServiceRole
from netra_ops.errors import PortInUseError, SandboxError, SandboxStartError
from netra_ops.processes import same_start
from netra_ops.sandbox.control.platform import PlatformSpec, ServiceSpec
from netra_ops.sandbox.control.scenarios import (
    apply_scenario,
    get_scenario,
    image_with_tag,
    list_scenarios,
)
from netra_ops.sandbox.google.registry import service_image
from netra_ops.sandbox.runtime.state import (
    StatePaths,
    ensure_secrets,
    not_running_error,
    read_json,
    sandbox_settings,
    state_lock,
    tail,
    up_command,
    write_json_atomic,
)
from netra_ops.sandbox.services.rehearsal_repo import ensure_rehearsal_repo
from netra_ops.sandbox.services.service_logging import rfc3339_now

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PROCESS_ROLES",
    "ProcessStatus",
    "SandboxStatus",
    "apply_scenario",
    "down",
    "list_scenarios",
    "logs",
    "push",
    "require_running",
    "status",
    "up",
]

PROCESS_ROLES: tuple[str, ...] = ("platform",)
_OTHER_SERVICES: tuple[ServiceRole, ...] = ("auth", "frontend")  # beside the backend
_PORT_OWNERS = {"auth": "the auth service's router", "frontend": "the frontend's router",
                "backend": "the backend router", "api": "the admin / Google API emulation",
                "monitoring": "the Cloud Monitoring emulation (gRPC)"}
_GRPC_SCHEME = "grpc://"
# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_H2_SETTINGS = 4
_LOG_ROLES = ("auth", "frontend", "platform", "requests")
_STOP_GRACE_S = 8.0
_PORT_WAIT_S = 5.0
_TAIL_LINES = 20
# Popen objects of the processes this Python process started: kept so they are never
# garbage-collected while running, and reaped by `down`.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessStatus:
    """One long-lived sandbox process as recorded in `sandbox.json`."""

    role: str
    pid: int
    port: int | None
    alive: bool


@dataclass(frozen=True)
class SandboxStatus:
    """What runs in the sandbox; `running` is False (not an exception) when it is down.

    `revisions` and `traffic` are the backend's; `other_revisions` the auth and frontend
    services' (each with `service` and `traffic_percent`)."""

    environment: str
    running: bool
    state_dir: Path
    urls: Mapping[str, str]
    processes: tuple[ProcessStatus, ...] = ()
    revisions: tuple[Mapping[str, Any], ...] = ()
    traffic: tuple[Mapping[str, Any], ...] = ()
    started_at: str | None = None
    detail: str = ""
    start_command: str = "netra-ops sandbox up"
    other_revisions: tuple[Mapping[str, Any], ...] = ()  # auth's and frontend's

    def rows(self) -> list[dict[str, Any]]:
        """One row per process and per revision: kind, name, state, pid, url, traffic."""
        rows = [{"kind": "process", "name": p.role, "state": "running" if p.alive else "dead",
                 "pid": p.pid, "url": _process_url(self.urls, p.role), "traffic_percent": None}
                for p in self.processes]
        percent = {t["revision"]: t["percent"] for t in self.traffic}
        host = urlsplit(self.urls.get("backend", "")).hostname or "127.0.0.1"
        for rev in self.revisions:
            url = f"http://{host}:{rev['port']}" if rev.get("port") else ""
            rows.append({"kind": "revision", "name": rev["name"], "state": rev["state"],
                         "pid": rev.get("pid"), "url": url,
                         "traffic_percent": percent.get(rev["name"], 0)})
        for rev in self.other_revisions:
            url = f"http://{host}:{rev['port']}" if rev.get("port") else ""
            rows.append({"kind": "revision", "name": rev["name"], "state": rev["state"],
                         "pid": rev.get("pid"), "url": url,
                         "traffic_percent": rev.get("traffic_percent", 0)})
        return rows

    def describe(self) -> str:
        """A few lines for people: URLs, processes, revisions with traffic, or how to start."""
        if not self.running:
            return (f"the sandbox of environment {self.environment} is not running "
                    f"({self.detail}); start it with: {self.start_command}")
        lines = [f"sandbox of environment {self.environment}: running since {self.started_at}"]
        lines += [f"  {role:<10} {url}" for role, url in self.urls.items()]
        for row in self.rows():
            share = "" if row["traffic_percent"] is None else f" {row['traffic_percent']:>3}%"
            lines.append(f"  {row['kind']:<9} {row['name']:<40} {row['state']:<8} "
                         f"pid {row['pid']}{share}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """`rows()` as a pandas DataFrame (for notebooks and the CLI's table)."""
        import pandas as pd

        columns = ["kind", "name", "state", "pid", "url", "traffic_percent"]
        return pd.DataFrame(self.rows(), columns=columns)


def _process_url(urls: Mapping[str, str], role: str) -> str:
    if role == "platform":
        monitoring = f", monitoring {urls['monitoring']}" if "monitoring" in urls else ""
        return f"{urls['backend']} (admin {urls['api']}{monitoring})"
    return urls.get(role, "")


def _role_urls(settings: SandboxSettings) -> dict[str, str]:
    """Each role's address: a URL, or `host:port` for the gRPC Monitoring emulation."""
    return {role: settings.endpoint(role) if role == "monitoring" else settings.url(role)
            for role in SANDBOX_ROLES}


# --- up -----------------------------------------------------------------------------------


def up(env: Environment, *, scenario: str | None = None) -> SandboxStatus:
    """Start the sandbox (or find it running) and return its status.

    Idempotent: a sandbox already running and answering is left as it is. Leftovers of an
    earlier run (dead pids) are cleaned first. PortInUseError names a taken port and its
    owner; SandboxStartError names the process that did not become healthy, with its log
    tail, after stopping what was started. With `scenario`, that scenario is then deployed.
    """
    settings = sandbox_settings(env)
    if scenario is not None:
        get_scenario(scenario)
    paths = StatePaths.of(env)
    with state_lock(paths):
        if not _running_and_answering(env, settings, paths):
            _stop_recorded(paths, settings)
            _check_ports_free(env, settings)
            _start(env, settings, paths)
    if scenario is not None:
        apply_scenario(env, scenario)
    return status(env)


def _running_and_answering(env: Environment, settings: SandboxSettings,
                           paths: StatePaths) -> bool:
    if not _recorded_processes(paths) or not all(p.alive for p in _process_statuses(paths)):
        return False
    urls = _health_urls(env, settings)
    del urls["backend"]  # its answer depends on the deployed scenario, not on the sandbox
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        return all(_answers(client, url) for url in urls.values())


def _check_ports_free(env: Environment, settings: SandboxSettings) -> None:
    taken = [role for role in SANDBOX_ROLES if _port_taken(settings.host, settings.ports[role])]
    if not taken:
        return
    problems = [_port_problem(env, settings, role) for role in taken]
    raise PortInUseError("; ".join(problems))


def _port_problem(env: Environment, settings: SandboxSettings, role: str) -> str:
    port = settings.ports[role]
    where = env.source or "the environment file"
    return (f"port {port} on {settings.host} ({role}: {_PORT_OWNERS[role]}) is taken by "
            f"{_port_owner(port)}; stop that process, or change [sandbox.ports] {role} "
            f"in {where}")


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _port_owner(port: int) -> str:
    """Who listens on a port, as far as psutil can tell."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    break
                with contextlib.suppress(psutil.Error):
                    process = psutil.Process(conn.pid)
                    command = " ".join(process.cmdline())[:120] or process.name()
                    return f"pid {conn.pid} ({command})"
                return f"pid {conn.pid}"
    return "another process (its pid is not visible to this user)"


def _start(env: Environment, settings: SandboxSettings, paths: StatePaths) -> None:
    paths.ensure()
    secret_files = ensure_secrets(env, paths)
    repository = env.preflight.repository
    if repository is not None and repository.is_relative_to(settings.state_dir):
        ensure_rehearsal_repo(repository)  # only ever inside the sandbox's own state
    _platform_spec(env, settings, secret_files.jwt_secret_file,
                   secret_files.users_file).write(paths.platform_spec)
    record: dict[str, Any] = {
        "environment": str(env.source) if env.source else env.name, "name": env.name,
        "host": settings.host, "ports": dict(settings.ports),
        "urls": _role_urls(settings),
        "started_at": rfc3339_now(), "processes": {},
    }
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for role in PROCESS_ROLES:
            process = _spawn(role, settings, paths, {})
            started[role] = process
            record["processes"][role] = {"pid": process.pid, "create_time": _create_time(
                process.pid), "port": settings.ports[_main_port(role)]}
            write_json_atomic(paths.sandbox_json, record)
        _wait_healthy(env, settings, paths, started)
    except BaseException:
        _stop_recorded(paths, settings)
        raise


def _main_port(role: str) -> str:
    return "backend" if role == "platform" else role


def _platform_spec(env: Environment, settings: SandboxSettings, jwt_secret: Path,
                   users: Path) -> PlatformSpec:
    base_env = {**env.expected_env, "AUTH_SERVICE_URL": settings.url("auth"),
                "FRONTEND_URL": settings.url("frontend")}
    services = tuple(ServiceSpec(
        service=env.services[role].name, role=role, port=settings.ports[role],
        image=service_image(settings.initial_image, role),
        base_env=_role_env(role, env, settings, jwt_secret, users),
        memory_limit=env.services[role].memory, cpu_limit=f"{env.services[role].cpu:g}",
        timeout_s=env.services[role].timeout_s, concurrency=env.services[role].concurrency,
        session_affinity=env.services[role].session_affinity,
    ) for role in _OTHER_SERVICES)
    return PlatformSpec(
        service=env.backend.name, host=settings.host, router_port=settings.ports["backend"],
        api_port=settings.ports["api"], image=settings.initial_image, base_env=base_env,
        memory_limit=env.backend.memory, cpu_limit=f"{env.backend.cpu:g}",
        timeout_s=env.backend.timeout_s, concurrency=env.backend.concurrency,
        session_affinity=env.backend.session_affinity,
        startup_timeout_s=settings.startup_timeout_s, project=env.project,
        region=env.region, monitoring_port=settings.ports["monitoring"], services=services,
    )



def _role_env(role: str, env: Environment, settings: SandboxSettings, jwt_secret: Path,
              users: Path) -> dict[str, str]:
    """The variables a role needs (secrets only as file paths)."""
    if role == "auth":
        frontend_port = settings.ports["frontend"]
        return {"NETRA_SANDBOX_JWT_SECRET_FILE": str(jwt_secret),
                "NETRA_SANDBOX_USERS_FILE": str(users),
                "ENVIRONMENT": env.expected_env.get("ENVIRONMENT", "staging"),
                "NETRA_SANDBOX_ALLOWED_ORIGINS": f"{settings.url('frontend')},"
                                                 f"http://localhost:{frontend_port}"}
    if role == "frontend":
        return {"NETRA_SANDBOX_AUTH_URL": settings.url("auth"),
                "NETRA_SANDBOX_BACKEND_URL": settings.url("backend")}
    return {}


def _spawn(role: str, settings: SandboxSettings, paths: StatePaths,
           extra_env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "netra_ops.sandbox", role, "--host", settings.host,
               "--port", str(settings.ports[_main_port(role)]), "--state-dir", str(paths.root)]
    if role == "platform":
        command += ["--spec", str(paths.platform_spec)]
    with paths.log(role).open("ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**_base_process_env(), **extra_env}, cwd=paths.root, start_new_session=True,
        )
    _CHILDREN[process.pid] = process
    return process


def _base_process_env() -> dict[str, str]:
    """The caller's environment without sandbox internals, with netra_ops importable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NETRA_FAULT_", "NETRA_SANDBOX_", "K_"))}
    package_root = str(Path(netra_ops.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _health_urls(env: Environment, settings: SandboxSettings) -> dict[str, str]:
    return {"auth": settings.url("auth") + env.auth.health_path,
            "frontend": settings.url("frontend") + env.frontend.health_path,
            "api": settings.url("api") + "/_sandbox/health",
            "monitoring": _GRPC_SCHEME + settings.endpoint("monitoring"),
            "backend": settings.url("backend") + env.backend.health_path}


def _wait_healthy(env: Environment, settings: SandboxSettings, paths: StatePaths,
                  started: Mapping[str, subprocess.Popen[bytes]]) -> None:
    """Wait until every URL answers 200; SandboxStartError names what did not."""
    pending = _health_urls(env, settings)
    owner = dict.fromkeys(pending, "platform")
    last: dict[str, str] = {}
    deadline = time.monotonic() + settings.startup_timeout_s
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while pending:
            for role, process in started.items():
                if process.poll() is not None:
                    raise _start_error(paths, role, f"it exited with code {process.returncode}")
            backend_ready = "api" not in pending and _first_revision_ready(client, settings)
            for name, url in list(pending.items()):
                if name == "backend" and not backend_ready:
                    last[name] = "first revision not ready yet"
                    continue  # the stable URL would only answer 503s into the request log
                last[name] = _probe(client, url)
                if last[name] == "200":
                    del pending[name]
            if pending and time.monotonic() > deadline:
                name = next(iter(pending))
                raise _start_error(paths, owner[name], f"{pending[name]} did not answer 200 "
                                   f"within {settings.startup_timeout_s:g} s ({last[name]})")
            if pending:
                time.sleep(0.1)


def _probe(client: httpx.Client, url: str) -> str:
    """"200" when the URL answers well (an HTTP 200, or a gRPC server's HTTP/2 SETTINGS),
    else what it did."""
    if url.startswith(_GRPC_SCHEME):
        return _probe_grpc(url.removeprefix(_GRPC_SCHEME))
    try:
        return str(client.get(url).status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


def _probe_grpc(endpoint: str) -> str:
    host, _, port = endpoint.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2.0) as sock:
            sock.sendall(_H2_PREFACE)
            head = sock.recv(9)
    except OSError as exc:
        return type(exc).__name__
    if len(head) >= 4 and head[3] == _H2_SETTINGS:
        return "200"
    return f"not an HTTP/2 (gRPC) answer: {head!r}"


def _answers(client: httpx.Client, url: str) -> bool:
    return _probe(client, url) == "200"


def _first_revision_ready(client: httpx.Client, settings: SandboxSettings) -> bool:
    """True once a revision is ready (asked of the admin API, not the stable URL, so the
    wait leaves no 503s in the request log); SandboxStartError if every one failed."""
    revisions: list[dict[str, Any]] = []
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        revisions = client.get(settings.url("api") + "/_sandbox/status").json()["revisions"]
    if revisions and all(r["state"] == "failed" for r in revisions):
        first = revisions[0]
        raise SandboxStartError(
            f"sandbox backend revision {first['name']} (image {first['image']}) failed "
            f"to start: {first['reason']}"
        )
    return any(r["state"] == "ready" for r in revisions)


def _start_error(paths: StatePaths, role: str, why: str) -> SandboxStartError:
    log = paths.log(role)
    lines = tail(log, _TAIL_LINES) or "(empty)"
    return SandboxStartError(
        f"sandbox {role} did not become healthy: {why}. Last lines of {log}:\n{lines}"
    )


# --- down ---------------------------------------------------------------------------------


def down(env: Environment) -> list[str]:
    """Stop every recorded sandbox process and revision; what was stopped. Idempotent."""
    settings = sandbox_settings(env)
    paths = StatePaths.of(env)
    with state_lock(paths):
        return _stop_recorded(paths, settings)


@dataclass(frozen=True)
class _Recorded:
    label: str
    pid: int
    create_time: float | None
    port: int | None = None


def _recorded_processes(paths: StatePaths) -> list[_Recorded]:
    record = read_json(paths.sandbox_json) or {}
    processes = record.get("processes", {})
    order = sorted(processes, key=lambda r: (r != "platform", r))  # the platform first
    return [_Recorded(role, int(processes[role]["pid"]), processes[role].get("create_time"),
                      processes[role].get("port")) for role in order]


def _recorded_revisions(paths: StatePaths) -> list[_Recorded]:
    found = []
    for path in paths.all_revisions_json():
        record = read_json(path) or {}
        found += [_Recorded(f"revision {r['name']}", int(r["pid"]), r.get("create_time"),
                            r.get("port")) for r in record.get("revisions", []) if r.get("pid")]
    return found


def _stop_recorded(paths: StatePaths, settings: SandboxSettings) -> list[str]:
    """Stop what the state files name (pid + start time must match); remove those files."""
    revisions = [r for r in _recorded_revisions(paths) if _is_alive(r.pid, r.create_time)]
    stopped = _terminate(_recorded_processes(paths))
    _terminate(revisions)  # those the platform did not stop (e.g. it was killed)
    for path in (paths.sandbox_json, *paths.all_revisions_json(), paths.platform_spec):
        path.unlink(missing_ok=True)
    if stopped or revisions:
        _wait_ports_free(settings)
    return [f"{r.label} (pid {r.pid})" for r in [*stopped, *revisions]]


def _terminate(recorded: list[_Recorded]) -> list[_Recorded]:
    """SIGTERM the live ones, SIGKILL what is left after a grace; those that were live."""
    live = [(r, p) for r in recorded if (p := _process(r.pid, r.create_time)) is not None]
    for _, process in live:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, survivors = psutil.wait_procs([p for _, p in live], timeout=_STOP_GRACE_S)
    for process in survivors:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(survivors, timeout=2.0)
    for record, _ in live:
        _reap(record.pid)
    return [r for r, _ in live]


def _process(pid: int, create_time: float | None) -> psutil.Process | None:
    """The live process with that pid and start time, or None (gone, zombie or reused)."""
    try:
        process = psutil.Process(pid)
        if create_time is not None and not same_start(process, create_time):
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(pid)
            return None
        return process
    except psutil.Error:
        return None


def _reap(pid: int) -> None:
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.poll()


def _is_alive(pid: int, create_time: float | None) -> bool:
    return _process(pid, create_time) is not None


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _wait_ports_free(settings: SandboxSettings) -> None:
    deadline = time.monotonic() + _PORT_WAIT_S
    ports = list(settings.ports.values())
    while ports and time.monotonic() < deadline:
        ports = [p for p in ports if _port_taken(settings.host, p)]
        if ports:
            time.sleep(0.05)


# --- status and logs ----------------------------------------------------------------------


def status(env: Environment) -> SandboxStatus:
    """The sandbox's processes, revisions and traffic; `running` False when it is down."""
    settings = sandbox_settings(env)
    paths = StatePaths.of(env)
    urls = _role_urls(settings)
    record = read_json(paths.sandbox_json)
    if record is None:
        return SandboxStatus(env.name, False, paths.root, urls,
                             detail=f"no {paths.sandbox_json.name} in {paths.root}",
                             start_command=up_command(env))
    processes = _process_statuses(paths)
    dead = [p.role for p in processes if not p.alive]
    missing = [r for r in PROCESS_ROLES if r not in {p.role for p in processes}]
    revisions, traffic = _platform_view(settings, paths)
    problems = [f"{r} is not running" for r in dead] + [f"{r} was never started" for r in missing]
    return SandboxStatus(
        env.name, not problems, paths.root, urls, tuple(processes), tuple(revisions),
        tuple(traffic), record.get("started_at"), "; ".join(problems), up_command(env),
        tuple(_other_revisions(paths)),
    )


def _process_statuses(paths: StatePaths) -> list[ProcessStatus]:
    return [ProcessStatus(r.label, r.pid, r.port, _is_alive(r.pid, r.create_time))
            for r in _recorded_processes(paths)]


def _platform_view(settings: SandboxSettings,
                   paths: StatePaths) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Revisions and traffic from the admin API, else from `revisions.json`."""
    try:
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            data = client.get(settings.url("api") + "/_sandbox/status").raise_for_status().json()
    except (httpx.HTTPError, ValueError):
        data = read_json(paths.revisions_json) or {}
        for revision in data.get("revisions", []):
            revision.pop("create_time", None)
    return list(data.get("revisions", [])), list(data.get("traffic", []))


def _other_revisions(paths: StatePaths) -> list[dict[str, Any]]:
    """The auth and frontend revisions as the platform recorded them, each with its
    `service` and `traffic_percent`."""
    found = []
    for role in _OTHER_SERVICES:
        record = read_json(paths.service_revisions_json(role)) or {}
        percent = {t["revision"]: t["percent"] for t in record.get("traffic", [])}
        found += [{**{k: v for k, v in r.items() if k != "create_time"},
                   "service": record.get("service"), "traffic_percent":
                   percent.get(r["name"], 0)} for r in record.get("revisions", [])]
    return found


def _newest_revision_log(paths: StatePaths, role: str) -> Path:
    """The log of a service's newest revision (auth, frontend); its role log before any."""
    revisions = (read_json(paths.service_revisions_json(role)) or {}).get("revisions", [])
    return paths.revision_log(revisions[-1]["name"]) if revisions else paths.log(role)


def push(env: Environment, tag: str, *, service: ServiceRole = "backend") -> dict[str, Any]:
    """Simulate a new build pushed under `tag` (the service's image repository): the tag
    moves to a new digest in the emulated Artifact Registry. Returns `{"image", "tag",
    "digest", "uri", "previous_digest", "push"}`; revisions already deployed keep theirs."""
    settings = sandbox_settings(env)
    image = image_with_tag(service_image(settings.initial_image, service), tag)
    url = settings.url("api") + "/_sandbox/registry/push"
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            response = client.post(url, json={"image": image})
    except httpx.TransportError as exc:
        raise not_running_error(env, f"the admin API at {url} did not answer: {exc}") from None
    if response.status_code != 200:
        raise SandboxError(f"pushing {image}: the registry answered {response.status_code}: "
                           f"{response.text[:300]}")
    pushed: dict[str, Any] = response.json()
    return pushed


def require_running(env: Environment) -> SandboxStatus:
    """The status of a running sandbox; SandboxNotRunningError says how to start it."""
    current = status(env)
    if not current.running:
        raise not_running_error(env, current.detail)
    return current


def logs(env: Environment, role: str, lines: int = 50) -> str:
    """The last `lines` lines of a log: auth, frontend, platform, requests, or a revision."""
    paths = StatePaths.of(env)
    available = {"platform": paths.log("platform")}
    available.update({role: _newest_revision_log(paths, role) for role in _OTHER_SERVICES})
    available["requests"] = paths.requests_log
    if paths.revision_logs_dir.is_dir():
        available.update({p.stem: p for p in sorted(paths.revision_logs_dir.glob("*.log"))})
    if role not in available:
        revisions = [name for name in available if name not in _LOG_ROLES]
        raise SandboxError(
            f"no log {role!r}; choose one of: {', '.join(_LOG_ROLES)}"
            + (f", or a revision: {', '.join(revisions)}" if revisions else " (no revision yet)")
        )
    if not available[role].exists():
        raise SandboxError(f"{available[role]} does not exist yet; start the sandbox with: "
                           f"{up_command(env)}")
    return tail(available[role], lines)

