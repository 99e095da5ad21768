"""The administrator wizard end to end against the IoT Central and Sectigo emulators, page by
page: choose, inspect, group and entry (commit), live steps, result; a device certificate is
blocked at inspect; a different certificate in the entry needs the replace checkbox."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QWizard

from certbench.core import ca_admin
from certbench.core.demo import DemoServices
from certbench.core.iotcentral import IoTCentralClient
from certbench.core.registry import open_registry
from certbench.core.workflows.ca_verification import STEPS
from certbench.core.x509.keys import generate_key
from certbench.core.x509.parse import to_pem
from certbench.gui.wizards.admin_wizard import PAGE_GROUP, PAGE_INSPECT, PAGE_RESULT, PAGE_RUN, AdminWizard

WAIT = 20_000


@pytest.fixture
def demo(tmp_path):
    with DemoServices(tmp_path / "services", dps=False, verify=False) as services:
        yield services


def _wizard(qtbot, settings) -> AdminWizard:
    wizard = AdminWizard(settings, operator="admin-ann")
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _choose(qtbot, wizard, name, origin="configured", path=""):
    page = wizard.choose_page
    page.select(name, origin, path)
    qtbot.waitUntil(page.isComplete, timeout=WAIT)
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    wizard.next()


def _group_page_ready(qtbot, wizard):
    page = wizard.group_page
    qtbot.waitUntil(lambda: not page._loading and page.entry_state is not None, timeout=WAIT)
    return page


def _central(settings):
    return IoTCentralClient.from_settings(settings.iotcentral)


def test_verifies_an_intermediate_end_to_end(qtbot, demo):
    settings = demo.settings
    wizard = _wizard(qtbot, settings)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # nothing read yet... or reading

    _choose(qtbot, wizard, "medicorp-ica-3")
    assert wizard.currentId() == PAGE_INSPECT
    inspect = wizard.inspect_page
    cert = demo.sectigo.app.ca.intermediate("medicorp-ica-3").certificate
    assert inspect.isComplete() and inspect.verdict.state == "ok"
    assert "MediCorp Device Issuing CA 3" in inspect.fields["subject"].text()
    assert inspect.fields["thumbprint"].text() == wizard.candidate.thumbprint and len(wizard.candidate.thumbprint) == 40
    assert inspect.fields["ca"].text().startswith("CA: yes")
    assert f"{cert.not_valid_after_utc:%Y-%m-%d}" in inspect.fields["validity"].text()
    wizard.next()

    group = _group_page_ready(qtbot, wizard)
    assert wizard.currentId() == PAGE_GROUP and group.isCommitPage()
    assert group.chosen() == ("medicorp-devices-2", "primary")  # from Settings
    assert group.entry_state.kind == "new-group" and "will be created" in group.state.text()
    assert group.isComplete() and not group.replace.isVisible()
    assert wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    events = []
    wizard.run_page.steps.itemChanged.connect(lambda item: events.append(item.text()))
    wizard.next()

    run = wizard.run_page
    assert wizard.currentId() == PAGE_RUN
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()  # past the commit point
    with qtbot.waitSignal(wizard.verified, timeout=WAIT) as outcome:
        pass
    qtbot.waitUntil(run.isComplete, timeout=WAIT)
    assert outcome.args[0].verified and outcome.args[0].uploaded
    assert {run.steps.state(step) for step in STEPS} == {"done"}
    assert run.bar.value() == len(STEPS) and run.message.state == "ok"
    assert events  # the list changed live, step by step
    wizard.next()
    assert wizard.currentId() == PAGE_RESULT
    assert wizard.result_page.headline.text() == "Verified"
    assert wizard.result_page.fields["where"].text() == "medicorp-devices-2 / primary"

    with _central(settings) as client:
        entry = client.get_certificate("medicorp-devices-2", "primary")
    assert entry.verified and entry.sha1_thumbprint == wizard.candidate.thumbprint
    with open_registry(settings.registry.url or None) as registry:
        recorded = [e for e in registry.events() if e.event == "iotcentral.ca_verification"]
    assert len(recorded) == 1 and recorded[0].outcome == "ok"
    assert (recorded[0].actor, recorded[0].workstation) == ("admin-ann", settings.bench.workstation)
    assert json.loads(recorded[0].details)["result"] == "verified"


def test_device_certificate_is_blocked_at_inspect(qtbot, demo, tmp_path):
    leaf = demo.sectigo.app.ca.sign_leaf("medicorp-ica-2", generate_key().public_key(), "mx300-sn42")
    path = tmp_path / "device.pem"
    path.write_text(to_pem([leaf]))
    wizard = _wizard(qtbot, demo.settings)
    _choose(qtbot, wizard, "medicorp-ica-2", "file", str(path))
    inspect = wizard.inspect_page
    assert wizard.currentId() == PAGE_INSPECT
    assert not inspect.isComplete()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert inspect.verdict.state == "fail"
    assert "not a CA certificate" in inspect.verdict.text() and "mx300-sn42" in inspect.verdict.text()
    assert inspect.fields["ca"].text().startswith("CA: NO")
    warnings = [inspect.warnings.item(i).text() for i in range(inspect.warnings.count())]
    assert any("cannot sign device certificates" in w for w in warnings)
    with open_registry(demo.settings.registry.url or None) as registry:
        assert not [e for e in registry.events() if e.event.startswith("iotcentral.")]  # nothing was sent


def test_unreadable_file_is_explained_on_the_choose_page(qtbot, demo, tmp_path):
    path = tmp_path / "garbage.pem"
    path.write_bytes(b"this is not a certificate")
    wizard = _wizard(qtbot, demo.settings)
    page = wizard.choose_page
    page.select("medicorp-ica-2", "file", str(path))
    qtbot.waitUntil(lambda: page.status.state == "fail", timeout=WAIT)
    assert not page.isComplete() and str(path) in page.status.text()


def test_replacing_a_different_certificate_needs_the_checkbox(qtbot, demo):
    settings = demo.settings
    first = ca_admin.load_configured(settings, "medicorp-ica-2")
    ca_admin.run_verification(settings, first, "medicorp-devices-1", "secondary", operator="admin-ann")

    wizard = _wizard(qtbot, settings)
    _choose(qtbot, wizard, "medicorp-ica-4")
    wizard.next()
    group = _group_page_ready(qtbot, wizard)
    group.group.setEditText("medicorp-devices-1")
    group.entry.setCurrentIndex(group.entry.findData("secondary"))
    assert group.entry_state.kind == "other" and first.thumbprint in group.state.text()
    assert first.thumbprint in group.holds.text()
    assert group.replace.isVisible() and not group.replace.isChecked()
    assert not group.isComplete() and not wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    group.replace.setChecked(True)
    assert group.isComplete() and wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    group.entry.setCurrentIndex(group.entry.findData("primary"))  # consent is per entry
    group.entry.setCurrentIndex(group.entry.findData("secondary"))
    assert not group.replace.isChecked() and not group.isComplete()
    group.replace.setChecked(True)
    wizard.next()
    run = wizard.run_page
    qtbot.waitUntil(run.isComplete, timeout=WAIT)
    assert run.outcome is not None and run.outcome.replaced_thumbprint == first.thumbprint
    with _central(settings) as client:
        entry = client.get_certificate("medicorp-devices-1", "secondary")
    assert entry.verified and entry.sha1_thumbprint == wizard.candidate.thumbprint != first.thumbprint


def test_failed_run_shows_reason_and_action_then_retries(qtbot, demo):
    settings = demo.settings
    wizard = _wizard(qtbot, settings)
    _choose(qtbot, wizard, "medicorp-ica-1")
    wizard.next()
    _group_page_ready(qtbot, wizard)
    demo.central.app.faults.add("503", 50, path="verify")  # IoT Central keeps failing the verify call
    wizard.next()
    run = wizard.run_page
    qtbot.waitUntil(run.isComplete, timeout=60_000)
    assert run.error is not None and run.retry.isVisible() and run.message.state == "fail"
    reason, action = run.message.text().split("\n", 1)  # what went wrong, then what to do
    assert reason and action
    assert "failed" in {run.steps.state(step) for step in STEPS}
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled() or wizard.button(QWizard.WizardButton.CommitButton).isEnabled()
    demo.central.app.faults.clear()
    run.retry.click()
    qtbot.waitUntil(lambda: run.isComplete() and run.outcome is not None, timeout=WAIT)
    wizard.next()
    assert wizard.result_page.headline.text() == "Verified"
    with open_registry(settings.registry.url or None) as registry:
        outcomes = [e.outcome for e in registry.events() if e.event == "iotcentral.ca_verification"]
    assert outcomes == ["failed", "ok"]
