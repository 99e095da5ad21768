from __future__ import annotations

import pytest

from certbench.core.errors import InputError
from certbench.core.workflows import ProgressEvent, ProgressReporter


def test_step_reports_started_done_with_detail():
    seen: list[ProgressEvent] = []
    reporter = ProgressReporter(seen.append)
    with reporter.step("upload", "Uploading.", group="g1") as out:
        out.update(thumbprint="AB", message="Uploaded.")
    reporter.skip("code", "Not needed.")
    assert [(e.step, e.status, e.message) for e in seen] == [
        ("upload", "started", "Uploading."), ("upload", "done", "Uploaded."), ("code", "skipped", "Not needed.")]
    assert seen[1].detail == {"group": "g1", "thumbprint": "AB"}
    assert reporter.events == seen
    assert seen[0].to_dict()["at"].endswith("+00:00")


def test_step_reports_failure_with_the_errors_message_and_reraises():
    reporter = ProgressReporter()
    with pytest.raises(InputError):
        with reporter.step("check", "Checking."):
            raise InputError("The file is not a certificate.", "Choose another.")
    last = reporter.events[-1]
    assert (last.status, last.message, last.detail["error"]) == ("failed", "The file is not a certificate.", "InputError")


def test_unknown_status_is_refused():
    with pytest.raises(ValueError):
        ProgressReporter().emit("x", "finished", "no")  # type: ignore[arg-type]
