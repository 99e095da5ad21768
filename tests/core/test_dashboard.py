"""Dashboard data: expiry states, intermediates from the local CA and from files, today's
units counted from the registry, service configuration, absent workflows reported as such."""

from __future__ import annotations

import dataclasses
import datetime as dt

from certbench.core import dashboard, secrets
from certbench.core.config import default_settings
from certbench.core.pki.local import LocalCA
from certbench.core.registry import Actor, open_registry
from certbench.core.x509.parse import to_pem

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def test_expiry_states():
    assert dashboard.expiry_state(None, NOW) == "unknown"
    assert dashboard.expiry_state(NOW - dt.timedelta(seconds=1), NOW) == "expired"
    assert dashboard.expiry_state(NOW + dt.timedelta(days=30), NOW) == "expiring"
    assert dashboard.expiry_state(NOW + dt.timedelta(days=dashboard.EXPIRY_WARNING_DAYS + 1), NOW) == "valid"


def test_local_ca_is_not_created_by_looking(certbench_home):
    rows = dashboard.intermediate_rows(default_settings())
    assert [r.expiry for r in rows] == ["unknown"] * 4
    assert "not been created" in rows[0].note
    assert not (certbench_home / "data" / "local-ca").exists()
    rows = dashboard.intermediate_rows(default_settings(), create_local_ca=True)
    assert [r.expiry for r in rows] == ["valid"] * 4
    assert rows[0].group == "medicorp-devices-1" and rows[0].entry == "primary"


def test_file_intermediates_read_expiry_and_report_problems(tmp_path):
    ca = LocalCA(tmp_path / "ca").ensure()
    pem = tmp_path / "ica.pem"
    pem.write_text(to_pem([ca.intermediate("medicorp-ica-1").certificate]))
    settings = default_settings()
    settings.intermediates = [
        dataclasses.replace(settings.intermediates[0], source="file", certificate_file=str(pem)),
        dataclasses.replace(settings.intermediates[1], source="file", certificate_file=str(tmp_path / "missing.pem")),
        dataclasses.replace(settings.intermediates[2], source="sectigo", profile_id=1, org_id=1),
    ]
    good, missing, sectigo = dashboard.intermediate_rows(settings)
    assert good.expiry == "valid" and good.not_after is not None
    assert missing.expiry == "unknown" and "Cannot read" in missing.note
    assert sectigo.expiry == "unknown" and "not imported" in sectigo.note


def test_todays_units_counts_only_today():
    registry = open_registry(None)
    actor = Actor("tech", "bench")
    registry.reserve("SN1", "mx200", None, "mx200-sn1", actor=actor)
    registry.fail(registry.reserve("SN2", "mx200", None, "mx200-sn2", actor=actor), "cable", actor=actor)
    registry.close()
    counts = dashboard.todays_units(None, page=1)  # page=1: the paging itself is exercised
    assert counts == dashboard.UnitCounts(done=0, failed=1, in_progress=1)
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert dashboard.todays_units(None, now=tomorrow) == dashboard.UnitCounts()


def test_service_states_follow_settings_and_keyring():
    settings = default_settings()
    iotc, sectigo, registry = dashboard.service_states(settings)
    assert not iotc.configured and "API token" in iotc.missing
    assert not sectigo.used
    assert registry.configured and "certbench.db" in registry.summary and registry.detail.startswith("sqlite:")
    settings.iotcentral = dataclasses.replace(settings.iotcentral, subdomain="medicorp")
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, "SharedAccessSignature sr=x&sig=y&skn=z&se=1")
    iotc = dashboard.service_states(settings)[0]
    assert iotc.configured and iotc.summary == "medicorp.azureiotcentral.com"


def test_missing_workflows_are_reported_as_unavailable():
    # These modules are being written by others; until then the dashboard says so.
    if not dashboard.instrument_discovery_available():
        assert dashboard.discover_instruments() == []
    if not dashboard.verification_status_available():
        assert dashboard.verification_status(default_settings()) == {}


def test_file_with_the_chain_above_reads_the_intermediates_expiry(tmp_path):
    ca = LocalCA(tmp_path / "ca").ensure()
    name = ca.intermediate_names()[0]
    info = ca.intermediate(name)
    path = tmp_path / "download.pem"
    path.write_text(to_pem([*info.chain_above, info.certificate]))  # root first, as portals often send it
    settings = default_settings()
    settings.intermediates = [dataclasses.replace(settings.intermediates[0], source="sectigo", profile_id=1, org_id=1,
                                                  certificate_file=str(path))]
    (row,) = dashboard.intermediate_rows(settings)
    assert row.not_after == info.certificate.not_valid_after_utc and row.expiry == "valid"
