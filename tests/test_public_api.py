"""The package's public faces: every module imports cleanly, `__all__` tells the truth.

The import rules between packages are tests/test_layers.py."""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import pytest

import netra_ops

MODULES = sorted(m.name for m in pkgutil.walk_packages(netra_ops.__path__, "netra_ops.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_without_warnings(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module(name)


def _isort_key(name: str) -> tuple[int, str]:
    """The order ruff keeps `__all__` in: CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_names_real_objects(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        assert name.rsplit(".", 1)[-1].startswith("_"), f"{name} has no __all__"
        return
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it lacks"


@pytest.mark.parametrize("name", ["netra_ops.cloud", "netra_ops.probe.agent_events",
                                  "netra_ops.probe.drift", "netra_ops.deploy",
                                  "netra_ops.metrics", "netra_ops.record", "netra_ops.load",
                                  "netra_ops.playbook", "netra_ops.schedule", "netra_ops.watch",
                                  "netra_ops.cli"])
def test_each_layer_imports_first_in_a_fresh_interpreter(name: str) -> None:
    """Import cycles only show when a module is the first one imported."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-W", "error", "-c", f"import {name}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_runbook_s_imports_leave_out_the_clients_it_may_not_call() -> None:
    """What every runbook's first cell imports (metrics, probe, record) leaves Cloud Run's
    and Cloud Build's clients (with the protobuf runtime: 0.3 s of a kernel's CPU) to the
    runbooks that call them; 04 validates the golden path without either."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from netra_ops import metrics, probe\n"
            "from netra_ops.record import record, runbook_setup, verdict\n"
            "print(sorted(m for m in ('google.cloud.run_v2', 'google.cloud.devtools.cloudbuild_v1',"
            " 'google.auth.transport.requests') if m in sys.modules))\n"
            "from netra_ops.cloud import services_client, submit_build\n"
            "print(callable(services_client) and callable(submit_build))\n")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["[]", "True"], done.stdout
