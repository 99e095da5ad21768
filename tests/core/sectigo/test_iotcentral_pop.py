"""The IoT Central proof-of-possession workflow with Sectigo as its issuer, against both
emulators over real HTTPS: the intermediate comes from Sectigo (x509IO of an issued order),
the verification certificate is ordered through the intermediate's Sectigo profile."""

from __future__ import annotations

import pytest
from sectigo_bench import NAMES

from certbench.core.iotcentral.auth import ApiCredential
from certbench.core.iotcentral.client import IoTCentralClient
from certbench.core.workflows.ca_verification import verify_intermediate
from certbench.core.x509.identity import make_identity
from certbench.core.x509.inspect import sha1_thumbprint


@pytest.fixture
def iotcentral(tmp_path):
    from certbench.core.emulators.iotcentral.run import run_emulator

    with run_emulator(state_dir=tmp_path / "iotc") as emu:
        with IoTCentralClient(emu.base_url, ApiCredential(emu.token), ca_file=emu.ca_file, timeout=5) as client:
            yield emu, client


def test_proof_of_possession_with_sectigo_issuer(bench, iotcentral):
    _emu, central = iotcentral
    bench.app.pending_collects = 2  # asynchronous issuance on the way
    issuer = bench.issuer()
    # The intermediate is learned from the first issued order (a unit), then proven.
    issuer.issue(NAMES[0], make_identity("MX200-000001", "ec-p256", validate_cn=False).csr)
    outcome = verify_intermediate(central, issuer, NAMES[0], group="medicorp-devices-1", entry="primary")
    inter = bench.app.ca.intermediate(NAMES[0]).certificate
    assert outcome.verified and not outcome.already_verified
    assert outcome.thumbprint == sha1_thumbprint(inter)
    assert central.get_certificate("medicorp-devices-1", "primary").verified
    # The verification certificate was an ordinary Sectigo order with CN = the code.
    orders = sorted(bench.app.orders.values(), key=lambda o: o.id)
    assert len(orders) == 2 and orders[-1].profile_id == bench.app.profile_for(NAMES[0])
    assert orders[-1].comments == "IoT Central proof of possession"
    again = verify_intermediate(central, issuer, NAMES[0], group="medicorp-devices-1", entry="primary")
    assert again.already_verified and len(bench.app.orders) == 2


def test_proof_of_possession_refused_when_profile_rewrites_cn(bench, iotcentral):
    _emu, central = iotcentral
    from certbench.core.pki.sectigo.errors import CertificateRejected
    from certbench.core.x509.parse import to_pem

    pem = bench.tmp_path / "ica2.pem"
    pem.write_text(to_pem([bench.app.ca.intermediate(NAMES[1]).certificate]))
    issuer = bench.issuer()
    issuer.import_intermediate(NAMES[1], pem)
    bench.app.profiles[bench.app.profile_for(NAMES[1])].rewrite_cn = "{cn}.pop"
    with pytest.raises(CertificateRejected, match="rewrote the subject"):
        verify_intermediate(central, issuer, NAMES[1], group="medicorp-devices-1", entry="secondary")
    assert not central.get_certificate("medicorp-devices-1", "secondary").verified


def test_all_four_intermediates_proven_through_sectigo_into_two_groups(bench, iotcentral):
    from certbench.core.workflows.ca_verification import status

    _emu, central = iotcentral
    issuer = bench.issuer()
    places = {}
    for i, name in enumerate(NAMES):
        # A first unit through each profile teaches the issuer its intermediate (SCM has no CA download).
        issuer.issue(name, make_identity(f"MX200-00010{i}", "ec-p256", validate_cn=False).csr)
        places[name] = (f"medicorp-devices-{i // 2 + 1}", ("primary", "secondary")[i % 2])
        verify_intermediate(central, issuer, name, group=places[name][0], entry=places[name][1])

    class Configured:
        def __init__(self, name):
            self.name, (self.group, self.entry) = name, places[name]

    rows = status(central, [Configured(n) for n in NAMES], lambda n: issuer.intermediate(n).certificate)
    assert [(r.name, r.state, r.found_group, r.found_entry) for r in rows] == [
        (n, "verified", *places[n]) for n in NAMES
    ]
    assert {r.thumbprint for r in rows} == {sha1_thumbprint(bench.app.ca.intermediate(n).certificate) for n in NAMES}


def test_verification_certificate_still_pending_says_to_rerun_verify(bench, iotcentral):
    from certbench.core.errors import ServiceError

    _emu, central = iotcentral
    issuer = bench.issuer(poll_limit_seconds=0.2)
    issuer.issue(NAMES[2], make_identity("MX200-000003", "ec-p256", validate_cn=False).csr)
    bench.app.pending_forever = True
    with pytest.raises(ServiceError, match="has not issued the verification certificate") as caught:
        verify_intermediate(central, issuer, NAMES[2], group="medicorp-devices-2", entry="primary")
    assert "ca verify medicorp-ica-3" in caught.value.hint and "fresh code" in caught.value.hint
    bench.app.pending_forever = False
    outcome = verify_intermediate(central, issuer, NAMES[2], group="medicorp-devices-2", entry="primary")
    assert outcome.verified and not outcome.uploaded  # resumed from the uploaded certificate
