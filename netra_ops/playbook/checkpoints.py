"""What a playbook tells people at each checkpoint: notifications and the incident's standing.

At the start, at each phase's start and outcome, and at the end, `Checkpoints`:

- writes where the incident stands into its index (`netra_ops.record.standing`), so the
  index shows the current state while the playbook runs, not only once 00 has run;
- with a webhook (`netra-ops run ... --webhook env:NAME`), posts a notification
  (`netra_ops.notify`): the playbook started (or resumed), each phase started and how it
  ended (status, decision, reason, record), the outcome; the seed's immediate stakeholder
  update when the deploy step starts for real (`execute`); and an escalation on each of the
  seed's triggers a step shows: the deploy failed or timed out (02 did not pass, or decided
  other than continue), a rollback decided, a validation failing (a step decided escalate:
  a success criterion missed) or held (the data could not decide), a security concern (a
  runbook printed a secret: the runner redacted it from the record).

Each notice's key is incident + playbook run id + phase + event (+ the status and decision
for an outcome). A resumed playbook (`start_from`) carries on the run id of the last run of
this playbook in the incident's sent-log, so what was sent before is not sent again; a phase
that ends differently this time is news and is sent. The later stakeholder updates (2 h,
4 h, 24 h) are the watch's (`netra_ops.notify.stakeholder_notice`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netra_ops.notify import (
    SEED_ESCALATION_TRIGGERS,
    Notice,
    Notifier,
    Severity,
    Webhook,
    escalation_notice,
    new_run_id,
    notice_key,
    stakeholder_notice,
)
from netra_ops.playbook.book import Playbook, Step
from netra_ops.record.manifest import manifest_digest
from netra_ops.record.runner import STOPPED, RunResult
from netra_ops.record.standing import write_checkpoint

if TYPE_CHECKING:  # run.py imports this module
    from netra_ops.playbook.run import PlaybookResult, StepOutcome

__all__ = ["DEPLOY_RUNBOOK", "MANIFEST_FIELD", "Checkpoints", "step_triggers"]

logger = logging.getLogger("netra_ops.record")
MANIFEST_FIELD = "Record manifest SHA-256"
"""A phase outcome's field: the digest of its run's manifest, kept outside the record (the
receiver's copy) for `netra-ops records verify --expect`."""

DEPLOY_RUNBOOK = "02_deploy"
"""The step whose start is the seed's "start of deployment" and whose failure is its
"Deployment fails or times out"."""

_REDACTED = "redacted from the notebook:"  # the runner's warning in run.log
_SEVERITY: dict[str, Severity] = {"continue": "info", "hold": "warning", "escalate": "warning",
                                  "rollback": "critical", "fail": "critical"}
_OUTCOME_SEVERITY: dict[str, Severity] = {"remediated": "info", "held": "warning"}


class Checkpoints:
    """The playbook's checkpoints for one run; see the module docstring."""

    def __init__(self, book: Playbook, steps: Sequence[Step], *, incident: str,
                 environment: str, execute: bool, folder: Path,
                 notifier: Notifier | None, start_from: str | None) -> None:
        self.book, self.steps, self.incident = book, list(steps), incident
        self.environment, self.execute, self.folder = environment, execute, folder
        self.notifier = notifier
        self.start_from = start_from
        self.run_id = self._run_id()
        self._done: list[str] = []

    @classmethod
    def open(cls, book: Playbook, steps: Sequence[Step], *, incident: str, environment: str,
             execute: bool, folder: Path, webhook: Webhook | None, webhook_format: str,
             start_from: str | None) -> Checkpoints:
        """The checkpoints of a run starting now (sends nothing yet)."""
        notifier = Notifier(webhook, folder, fmt=webhook_format) if webhook else None
        return cls(book, steps, incident=incident, environment=environment, execute=execute,
                   folder=folder, notifier=notifier, start_from=start_from)

    def _run_id(self) -> str:
        if self.notifier is not None and self.start_from is not None:
            last = self.notifier.log.last("playbook.started", Playbook=self.book.name)
            if last is not None:
                return str(last["run_id"])
        return new_run_id()

    def started(self) -> None:
        """The playbook started (or resumed at `start_from`)."""
        names = ", ".join(s.name for s in self.steps)
        mode = "changes allowed (--execute)" if self.execute else "dry run: nothing is changed"
        if self.start_from is None:
            text = f"playbook {self.book.name} started on {self.environment} ({mode}): {names}"
            self._send("playbook.started", "", text, key=(), title="playbook started")
        else:
            text = (f"playbook {self.book.name} resumed at {self.start_from} on "
                    f"{self.environment} ({mode}): {names}")
            self._send("playbook.resumed", self.start_from, text, key=(new_run_id(),),
                       title=f"playbook resumed at {self.start_from}")
        self._checkpoint(f"playbook {self.book.name} running: next {self.steps[0].name}")

    def phase_started(self, step: Step, branch: str | None) -> None:
        """A phase (step) is starting."""
        where = f" (branch {branch})" if branch else ""
        self._send("phase.started", step.name, f"phase {step.name}{where} started",
                   verdict="running", key=(), title=f"{step.name} started")
        if step.name == DEPLOY_RUNBOOK and self.execute and step.execute and self.notifier:
            self.notifier.send(stakeholder_notice(
                self.incident, self.run_id, "Immediate (start of deployment)",
                detail=f"{step.name} is deploying on {self.environment}",
                record=self._index()))

    def phase_ended(self, step: Step, outcome: StepOutcome, result: RunResult) -> None:
        """A phase ended: its outcome, then any escalation trigger it shows, then the
        incident's standing."""
        record = str(result.html_path)
        sealed = manifest_digest(result.record_dir) if result.record_dir else None
        text = (f"phase {step.name} {outcome.status.upper()}: decided {outcome.decision}"
                + (f" ({outcome.reason})" if outcome.reason else ""))
        self._send("phase.outcome", step.name, text, verdict=outcome.status, record=record,
                   key=(outcome.status, outcome.decision),
                   title=f"{step.name}: {outcome.status} -> {outcome.decision}",
                   severity=_SEVERITY.get(outcome.decision, "warning"),
                   fields=(("Decision", outcome.decision), *self._update(result),
                           *(((MANIFEST_FIELD, sealed),) if sealed else ())))
        for trigger, detail in step_triggers(step, outcome, result):
            if self.notifier is not None:
                self.notifier.send(escalation_notice(
                    self.incident, self.run_id, trigger, phase=step.name,
                    verdict=outcome.status, record=record, detail=detail))
        self._done.append(f"{step.name} {outcome.status} ({outcome.decision})")
        self._checkpoint(f"playbook {self.book.name} running: {'; '.join(self._done)}")

    def finished(self, result: PlaybookResult) -> None:
        """The playbook ended: its outcome, with the reason and the index."""
        branch = f" (branch {result.branch_taken} taken)" if result.branch_taken else ""
        text = (f"playbook {self.book.name} {result.outcome}{branch} in "
                f"{result.duration_s:.0f} s: {result.reason}")
        self._send("playbook.outcome", "", text, verdict=result.outcome, record=self._index(),
                   key=(result.status,), title=f"playbook {result.outcome}",
                   severity=_OUTCOME_SEVERITY.get(result.status, "critical"))
        self._checkpoint(text)

    def _send(self, event: str, phase: str, text: str, *, key: tuple[str, ...], title: str,
              verdict: str = "", record: str = "", severity: Severity = "info",
              fields: tuple[tuple[str, str], ...] = ()) -> None:
        if self.notifier is None:
            return
        self.notifier.send(Notice(
            self.incident, self.run_id, event,
            notice_key(self.incident, self.run_id, phase, event, *key),
            f"{self.incident} · {title}", f"[{self.incident}] {text}", phase=phase,
            verdict=verdict, record=record or self._index(), severity=severity,
            fields=(("Playbook", self.book.name), ("Environment", self.environment),
                    *fields)))

    def sent(self) -> list[dict[str, Any]]:
        """The messages of this run (sent or given up on), as the incident index lists them."""
        if self.notifier is None:
            return []
        return [{"sent_at": entry.get("at"), "channel": entry.get("destination"),
                 "event": entry.get("event"), "phase": entry.get("phase"),
                 "verdict": entry.get("verdict"),
                 "status": "delivered" if entry.get("delivered") else "gave up",
                 "manifest_sha256": (entry.get("fields") or {}).get(MANIFEST_FIELD),
                 "attempts": entry.get("attempts")}
                for entry in self.notifier.log.entries() if entry.get("run_id") == self.run_id]

    def _index(self) -> str:
        return str(self.folder / "index.html")

    @staticmethod
    def _update(result: RunResult) -> tuple[tuple[str, str], ...]:
        said = (result.summary.get("records") or {}).get("stakeholder_update")
        return (("Stakeholder update", str(said)),) if said else ()

    def _checkpoint(self, text: str) -> None:
        if not self.folder.is_dir():
            return  # nothing has run into this incident yet: no index to write
        try:
            write_checkpoint(self.folder, {"playbook": self.book.name, "run_id": self.run_id,
                                           "text": text})
        except (OSError, ValueError) as exc:  # the standing is a view: never stop a playbook
            logger.warning("could not write the incident's standing: %s", exc)


def step_triggers(step: Step, outcome: StepOutcome, result: RunResult) -> list[tuple[str, str]]:
    """The escalation triggers a step's outcome shows: (trigger, detail)."""
    found: list[tuple[str, str]] = []
    if outcome.status in STOPPED:
        return found  # a person stopped it: not a failure of the deploy
    reason = outcome.reason or outcome.status
    if step.name == DEPLOY_RUNBOOK and (outcome.status != "passed"
                                        or outcome.decision != "continue"):
        found.append((SEED_ESCALATION_TRIGGERS[0], f"{outcome.status}: {reason}"))
    if outcome.decision == "rollback":
        found.append((SEED_ESCALATION_TRIGGERS[1], reason))
    elif outcome.decision == "escalate":
        found.append(("Validation failing: a success criterion was missed", reason))
    elif outcome.decision == "hold":
        found.append(("Held: the data could not decide, a person decides", reason))
    if _printed_secret(result):
        found.append((SEED_ESCALATION_TRIGGERS[3], "the runbook printed a secret; it was "
                      "redacted from the record (see its run.log)"))
    return found


def _printed_secret(result: RunResult) -> bool:
    log = result.record_dir / "run.log"
    try:
        return _REDACTED in log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
