"""The administrator wizard's core: candidates and their blockers, entry states, and the
verification run against the IoT Central and Sectigo emulators with its audit trail."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from certbench.core import ca_admin
from certbench.core.demo import DemoServices
from certbench.core.errors import InputError
from certbench.core.iotcentral import IoTCentralClient
from certbench.core.pki.local import LocalCA
from certbench.core.registry import open_registry
from certbench.core.x509.keys import generate_key
from certbench.core.x509.parse import to_pem


@pytest.fixture
def demo(tmp_path):
    with DemoServices(tmp_path, dps=False, verify=False) as services:
        yield services


def test_device_certificate_and_expired_ca_are_blocked(demo):
    ca = LocalCA.from_settings(demo.settings).ensure()
    leaf = ca.sign_leaf("medicorp-ica-3", generate_key().public_key(), "mx200-sn1")
    blocked = ca_admin.candidate("medicorp-ica-1", "file", [leaf])
    assert "not a CA certificate" in blocked.blocker and blocked.summary.is_ca is False
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365 * 20)
    expired = ca_admin.candidate("medicorp-ica-3", "configured", [ca.intermediate("medicorp-ica-3").certificate], at=later)
    assert "expired" in expired.blocker
    fine = ca_admin.load_configured(demo.settings, "medicorp-ica-3")
    assert fine.blocker is None and fine.summary.is_ca and len(fine.thumbprint) == 40


def test_file_with_device_certificate_in_front_keeps_the_ca(demo, tmp_path):
    sectigo_ca = demo.sectigo.app.ca
    inter = sectigo_ca.intermediate("medicorp-ica-2")
    leaf = sectigo_ca.sign_leaf("medicorp-ica-2", generate_key().public_key(), "mx300-sn1")
    path = tmp_path / "chain.pem"
    path.write_text(to_pem([leaf, inter.certificate, *inter.chain_above]))
    chosen = ca_admin.load_from_file(demo.settings, "medicorp-ica-2", path)
    assert chosen.blocker is None and chosen.certificate == inter.certificate and chosen.path == str(path)
    demo.settings.intermediate("medicorp-ica-3").source = "local"
    with pytest.raises(InputError, match="not imported from a file"):
        ca_admin.load_from_file(demo.settings, "medicorp-ica-3", path)


def test_run_from_file_records_operator_and_workstation(demo, tmp_path):
    settings = demo.settings
    inter = demo.sectigo.app.ca.intermediate("medicorp-ica-2")
    path = tmp_path / "ica2.pem"
    path.write_text(to_pem([inter.certificate]))
    chosen = ca_admin.load_from_file(settings, "medicorp-ica-2", path)
    groups = ca_admin.list_groups(settings)
    assert ca_admin.entry_state(groups, "medicorp-devices-1", "secondary", chosen.thumbprint).kind == "new-group"
    events = []
    outcome = ca_admin.run_verification(settings, chosen, "medicorp-devices-1", "secondary", operator="admin-ann",
                                        progress=events.append)
    assert outcome.verified and [e.step for e in events if e.status == "done"][-1] == "confirm"
    groups = ca_admin.list_groups(settings)
    assert ca_admin.entry_state(groups, "medicorp-devices-1", "secondary", chosen.thumbprint).kind == "same-verified"
    # Someone else's certificate in that entry now: the next intermediate needs `replace`.
    other = ca_admin.load_configured(settings, "medicorp-ica-4")
    state = ca_admin.entry_state(groups, "medicorp-devices-1", "secondary", other.thumbprint)
    assert state.needs_replace and state.held_thumbprint == chosen.thumbprint
    with pytest.raises(InputError, match="different certificate"):
        ca_admin.run_verification(settings, other, "medicorp-devices-1", "secondary", operator="admin-ann")
    with open_registry(settings.registry.url or None) as registry:
        events = [e for e in registry.events() if e.event.startswith("iotcentral.")]
    assert [(e.event, e.outcome) for e in events] == [
        ("iotcentral.certificate_upload", "ok"), ("iotcentral.ca_verification", "ok"),
        ("iotcentral.ca_verification", "refused")]
    assert {(e.actor, e.workstation) for e in events} == {("admin-ann", settings.bench.workstation)}
    assert json.loads(events[1].details)["thumbprint"] == chosen.thumbprint
    with IoTCentralClient.from_settings(settings.iotcentral) as client:
        entry = client.get_certificate("medicorp-devices-1", "secondary")
    assert entry.verified and entry.sha1_thumbprint == chosen.thumbprint


def test_file_intermediate_cannot_be_verified(demo):
    item = demo.settings.intermediates[0]
    item.source, item.certificate_file = "file", "/nonexistent.pem"
    assert "cannot sign the verification certificate" in ca_admin.cannot_verify(item)
    assert ca_admin.origins_for(item) == ("configured",)
