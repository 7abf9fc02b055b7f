"""Records in a bucket, on the sandbox's Cloud Storage emulation, through google-cloud-storage:
the emulation's shapes (paging, 412, 404), a playbook whose environment's `records_url` is
the bucket (the record there, `records verify` reading it back, a changed object caught),
two writers of one incident's index (neither loses the other's run), and doctor's rows for
the bucket's permissions. One sandbox for the module; fixture notebooks, a few seconds each.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fixture_playbooks import NOTEBOOKS, write_fixture_playbook
from google.api_core import exceptions as gexc

from netra_ops.cloud.clients import storage_client
from netra_ops.config import Environment, load_environment
from netra_ops.doctor import doctor
from netra_ops.playbook import run_playbook
from netra_ops.record import run_notebook, verify_incident, write_index, write_manifest
from netra_ops.record.bucket import pull_incident, staging_root

pytestmark = [pytest.mark.sandbox]
BUCKET = "netra-sandbox-records"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


@pytest.fixture(scope="module")
def client(env: Environment) -> Iterator[Any]:
    made = storage_client(env)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def staging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Staging folders of this test's own (the kernels inherit it); no outputs override."""
    folder = tmp_path / "staging"
    monkeypatch.setenv("NETRA_OPS_STAGING", str(folder))
    monkeypatch.delenv("NETRA_OPS_OUTPUTS", raising=False)
    return folder


def with_records_url(env: Environment, url: str, name: str) -> Path:
    """The module's environment file with `records_url = url`, beside it."""
    assert env.source is not None
    path = env.source.with_name(f"{name}.toml")
    path.write_text(f'records_url = "{url}"\n' + env.source.read_text(encoding="utf-8"))
    return path


def names(client: Any, prefix: str) -> set[str]:
    return {blob.name[len(prefix):] for blob in client.list_blobs(BUCKET, prefix=prefix)}


def test_the_emulation_pages_lists_and_answers_googles_412_and_404(
        env: Environment, client: Any) -> None:
    bucket = client.bucket(BUCKET)
    for n in range(5):
        bucket.blob(f"shapes/d{n % 2}/o{n}").upload_from_string(f"{n}", if_generation_match=0)
    pages = [[blob.name for blob in page] for page in
             client.list_blobs(BUCKET, prefix="shapes/", page_size=2).pages]
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [name for page in pages for name in page]
    assert listed == sorted(f"shapes/d{n % 2}/o{n}" for n in range(5))
    folders = client.list_blobs(BUCKET, prefix="shapes/", delimiter="/")
    assert list(folders) == [] and folders.prefixes == {"shapes/d0/", "shapes/d1/"}

    blob = bucket.blob("shapes/d0/o0")
    with pytest.raises(gexc.PreconditionFailed):
        blob.upload_from_string("again", if_generation_match=0)
    blob.reload()
    blob.upload_from_string("replaced", if_generation_match=blob.generation)
    assert blob.download_as_bytes() == b"replaced"
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob("shapes/d0/o0").download_as_bytes(if_metageneration_match=7)
    with pytest.raises(gexc.PreconditionFailed):
        blob.delete(if_generation_match=blob.generation - 1)
    blob.delete(if_generation_match=blob.generation)
    with pytest.raises(gexc.NotFound):
        blob.reload()

    big = bucket.blob("shapes/big.bin", chunk_size=256 * 1024)  # a resumable upload
    big.upload_from_string(b"x" * 600_000, if_generation_match=0)
    assert len(bucket.blob("shapes/big.bin").download_as_bytes()) == 600_000

    api = f"{env.api_endpoint}/storage/v1/b"
    with httpx.Client(trust_env=False, timeout=10) as http:
        taken = http.post(f"{env.api_endpoint}/upload/storage/v1/b/{BUCKET}/o",
                          params={"uploadType": "media", "name": "shapes/d1/o1",
                                  "ifGenerationMatch": "0"}, content=b"x")
        missing = http.get(f"{api}/{BUCKET}/o/shapes%2Fnone")
        no_bucket = http.get(f"{api}/no-such-bucket/o")
    assert taken.status_code == 412
    assert taken.json()["error"]["errors"][0]["reason"] == "conditionNotMet"
    assert missing.status_code == 404 and missing.json()["error"] == {
        "code": 404, "message": f"No such object: {BUCKET}/shapes/none",
        "errors": [{"message": f"No such object: {BUCKET}/shapes/none", "domain": "global",
                    "reason": "notFound"}]}
    assert no_bucket.status_code == 404
    assert no_bucket.json()["error"]["message"] == "The specified bucket does not exist."


def test_a_playbook_records_into_the_bucket_and_verify_reads_it_back(
        env: Environment, client: Any, tmp_path: Path) -> None:
    url = f"gs://{BUCKET}/playbook"
    env_file = with_records_url(env, url, "with-bucket")
    book = write_fixture_playbook(tmp_path / "book.toml", ["ok.ipynb", "reads_earlier.ipynb"])
    result = run_playbook(book, environment=str(env_file), incident="INC-B1")
    assert result.status == "remediated", result.reason

    stored = names(client, "playbook/INC-B1/")
    runs = sorted({name.split("/")[0] for name in stored if "T" in name.split("/")[0]})
    assert len(runs) == 2
    assert {"index.json", "index.html", "manifest.json"} <= stored
    assert any(name.startswith("playbook_runs/") for name in stored)
    for run in runs:
        assert {f"{run}/{f}" for f in ("summary.json", "run.log", "manifest.json")} <= stored
    index = json.loads(client.bucket(BUCKET).blob("playbook/INC-B1/index.json")
                       .download_as_bytes())
    assert [r["folder"] for r in index["runs"]] == runs
    assert index["playbook_runs"][-1]["outcome"] == "REMEDIATED"

    fresh = {**os.environ, "NETRA_OPS_ENV": str(env_file),
             "NETRA_OPS_STAGING": str(tmp_path / "elsewhere")}  # nothing staged there yet
    verified = _cli(fresh, "records", "verify", "INC-B1")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok: {len(stored) - 1} files match the manifest" in verified.stdout
    listed = _cli(fresh, "records", "list", "--outputs", url)
    assert "INC-B1" in listed.stdout and "reads_earlier" in listed.stdout

    changed = client.bucket(BUCKET).blob(f"playbook/INC-B1/{runs[0]}/summary.json")
    changed.upload_from_string(changed.download_as_bytes().replace(b"passed", b"PASSED"))
    report = verify_incident(staging_root(url, load_environment(env_file)) / "INC-B1")
    assert not report.ok and report.changed == (f"{runs[0]}/summary.json",)


def test_two_writers_of_one_incident_keep_both_runs(env: Environment, client: Any,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    url = f"gs://{BUCKET}/writers"
    environment = str(with_records_url(env, url, "writers"))
    local = run_notebook(NOTEBOOKS / "ok.ipynb", environment=environment, incident="INC-W",
                         outputs_dir=tmp_path / "local")
    monkeypatch.setenv("NETRA_OPS_STAGING", str(tmp_path / "b"))
    second = staging_root(url, env) / "INC-W"
    pull_incident(second)  # B is based on the bucket before A publishes

    monkeypatch.setenv("NETRA_OPS_STAGING", str(tmp_path / "a"))
    first = run_notebook(NOTEBOOKS / "ok.ipynb", environment=environment, incident="INC-W")
    first_manifest = client.bucket(BUCKET).blob("writers/INC-W/manifest.json")
    first_digest = _sha256(first_manifest.download_as_bytes())

    shutil.copytree(local.record_dir, second / f"{local.record_dir.name}-b")
    write_index(second)
    with caplog.at_level(logging.INFO, logger="netra_ops.record"):
        write_manifest(second)  # index.json exists now: 412, merged, published again
    assert "writers/INC-W/index.json changed in the bucket since generation 0 (412)" in \
        caplog.text

    index = json.loads(client.bucket(BUCKET).blob("writers/INC-W/index.json")
                       .download_as_bytes())
    assert sorted(r["folder"] for r in index["runs"]) == sorted(
        [first.record_dir.name, f"{local.record_dir.name}-b"])
    assert all(r["manifest_sha256"] for r in index["runs"])
    manifest = json.loads(client.bucket(BUCKET).blob("writers/INC-W/manifest.json")
                          .download_as_bytes())
    assert manifest["previous"] == first_digest  # chained to A's, not replacing it
    assert verify_incident(first.record_dir.parent).ok


def test_doctor_names_the_role_a_missing_bucket_permission_needs(
        env: Environment, tmp_path: Path) -> None:
    env_file = with_records_url(env, f"gs://{BUCKET}/doctor", "doctor")
    every = ["storage.objects.create", "storage.objects.get", "storage.objects.list"]
    _grant(env, [*_held(env), *every])
    try:
        report = doctor(env_file)
    finally:
        _grant(env, None)
    assert report.check("records bucket").status == "pass"
    assert all(report.check(f"permission {p}").status == "pass" for p in every)
    row = report.check("permission storage.objects.delete")
    assert row.status == "fail" and "roles/storage.objectUser" in row.detail
    assert (f"gcloud storage buckets add-iam-policy-binding gs://{BUCKET} "
            "--member=") in (row.fix or "")

    missing = doctor(with_records_url(env, "gs://no-such-bucket/x", "doctor-missing"))
    assert missing.check("records bucket").status == "fail"
    assert "does not exist" in missing.check("records bucket").detail
    assert "records bucket" not in {c.name for c in doctor(env).checks}  # local records


def _held(env: Environment) -> list[str]:
    from netra_ops.doctor import REQUIREMENTS

    return [r.permission for r in REQUIREMENTS]


def _grant(env: Environment, permissions: list[str] | None) -> None:
    with httpx.Client(trust_env=False, timeout=10) as http:
        http.put(f"{env.api_endpoint}/_sandbox/iam",
                 json={"granted_permissions": permissions}).raise_for_status()


def _cli(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netra_ops", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
