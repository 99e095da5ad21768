"""SectigoIssuer end to end against the emulator: async issuance, approval, resume by order
id, the checks on what comes back, intermediates."""

from __future__ import annotations

import pytest
from cryptography import x509
from sectigo_bench import NAMES

from certbench.core.errors import ConfigError, InputError
from certbench.core.pki.base import OrderPending
from certbench.core.pki.sectigo.errors import (
    CertificateRejected,
    CollectTimeout,
    OrderDeclined,
    SectigoRequestRefused,
    SectigoResponseError,
    SectigoUnavailable,
)
from certbench.core.x509.chain import validate_client_chain, verify_signed_by
from certbench.core.x509.identity import make_identity
from certbench.core.x509.inspect import common_name, is_self_signed


def _identity(cn="MX200-000777", spec="ec-p256"):
    return make_identity(cn, spec, validate_cn=False)


@pytest.mark.parametrize("mode", ["password", "client-cert", "oauth2"])
def test_issue_through_each_intermediate(bench, mode):
    issuer = bench.issuer(mode)
    for name in NAMES if mode == "password" else NAMES[:1]:
        identity = _identity(f"MX200-{name[-1]}")
        recorded = []
        issued = issuer.issue(name, identity.csr, on_order=recorded.append)
        assert recorded == [issued.order_id]
        inter = bench.app.ca.intermediate(name).certificate
        assert issued.chain == (issued.certificate, inter)  # leaf first, no root
        assert verify_signed_by(issued.certificate, inter)
        assert issuer.intermediate(name).certificate == inter  # learned from the collected chain
        validate_client_chain(issued.certificate, [], [inter])


def test_order_returns_the_id_before_any_collect(bench):
    issuer = bench.issuer()
    order_id = issuer.order(NAMES[0], _identity().csr)
    assert bench.app.orders[int(order_id)].collects == 0
    assert issuer.collect(NAMES[0], order_id).order_id == order_id


def test_pending_then_issued_with_backoff(bench):
    bench.app.pending_collects = 3
    sleeps = []
    issuer = bench.issuer(sleep=sleeps.append, poll_interval=0.001, poll_max_interval=0.004)
    issued = issuer.issue(NAMES[2], _identity().csr)
    assert common_name(issued.certificate.subject) == "MX200-000777"
    assert sleeps == [0.001, 0.002, 0.004]  # doubles, capped
    assert bench.app.orders[int(issued.order_id)].collects == 4


def test_pending_by_time(bench):
    bench.app.pending_seconds = 0.3
    issued = bench.issuer(poll_interval=0.05).issue(NAMES[0], _identity().csr)
    assert issued.certificate


def test_wait_false_raises_order_pending(bench):
    bench.app.pending_collects = 1
    issuer = bench.issuer()
    order_id = issuer.order(NAMES[0], _identity().csr)
    with pytest.raises(OrderPending) as info:
        issuer.collect(NAMES[0], order_id, wait=False)
    assert info.value.order_id == order_id and "processed" in info.value.reason
    assert issuer.collect(NAMES[0], order_id, wait=False).order_id == order_id


def test_pending_forever_times_out_keeping_the_order_id(bench):
    bench.app.pending_forever = True
    issuer = bench.issuer(poll_limit_seconds=0.2, poll_interval=0.02)
    order_id = issuer.order(NAMES[0], _identity().csr)
    with pytest.raises(CollectTimeout) as info:
        issuer.collect(NAMES[0], order_id)
    error = info.value
    assert error.order_id == order_id and not error.awaiting_approval
    assert isinstance(error, OrderPending)  # callers that only know the Issuer interface
    assert f"certbench sectigo collect {order_id}" in error.hint and "do not order again" in error.hint
    assert bench.app.enroll_calls == 1
    bench.app.pending_forever = False
    assert bench.issuer().collect(NAMES[0], order_id).order_id == order_id


def test_pending_forever_fault_injection(bench):
    bench.app.faults.add("pending", -1, path="/collect/")
    issuer = bench.issuer(poll_limit_seconds=0.1, poll_interval=0.02)
    with pytest.raises(CollectTimeout):
        issuer.issue(NAMES[0], _identity().csr)


def test_awaiting_approval_is_surfaced_then_approved(bench):
    app = bench.app
    statuses = []
    intermediates = bench.intermediates(**{NAMES[0]: {"profile_id": app.approval_profile_id}})
    issuer = bench.issuer(intermediates=intermediates, poll_limit_seconds=0.15, poll_interval=0.02,
                          on_status=lambda oid, s: statuses.append((oid, s)))
    order_id = issuer.order(NAMES[0], _identity().csr)
    assert statuses == [(order_id, "awaiting approval")]
    with pytest.raises(CollectTimeout) as info:
        issuer.collect(NAMES[0], order_id)
    assert info.value.awaiting_approval and "awaiting approval" in info.value.message
    assert "approve" in info.value.hint
    bench.client().approve(order_id, "approved at the bench")
    assert issuer.collect(NAMES[0], order_id).order_id == order_id
    assert app.enroll_calls == 1


def test_declined_order_is_not_pending(bench):
    app = bench.app
    intermediates = bench.intermediates(**{NAMES[0]: {"profile_id": app.approval_profile_id}})
    issuer = bench.issuer(intermediates=intermediates)
    order_id = issuer.order(NAMES[0], _identity().csr)
    bench.client().decline(order_id, "not this one")
    with pytest.raises(OrderDeclined) as info:
        issuer.collect(NAMES[0], order_id)
    assert info.value.order_id == order_id


def test_resume_by_order_id_after_a_crash(bench, tmp_path):
    bench.app.pending_forever = True
    first = bench.issuer(poll_limit_seconds=0.05)
    identity = _identity("MX200-RESUME")
    order_id = first.order(NAMES[1], identity.csr)
    with pytest.raises(CollectTimeout):
        first.collect(NAMES[1], order_id)
    first.client.close()  # the process "crashes"
    bench.app.pending_forever = False
    second = bench.issuer("oauth2")  # a new process, another client
    issued = second.collect(NAMES[1], order_id)
    assert issued.certificate.public_key() == identity.key.public_key()
    assert len(bench.app.orders) == 1 and bench.app.enroll_calls == 1


def test_cn_rewriting_profile_is_refused(bench):
    pid = bench.app.profile_for(NAMES[3])
    bench.app.profiles[pid].rewrite_cn = "{cn}.devices.medicorp.example"
    issuer = bench.issuer()
    with pytest.raises(CertificateRejected) as info:
        issuer.issue(NAMES[3], _identity("LX5-000001").csr)
    error = info.value
    assert "rewrote the subject" in error.message and "LX5-000001.devices.medicorp.example" in error.message
    assert f"profile {pid}" in error.message and "revoke" in error.hint and error.order_id


def test_cn_checked_for_orders_this_bench_did_not_journal(bench):
    pid = bench.app.profile_for(NAMES[3])
    bench.app.profiles[pid].rewrite_cn = "X-{cn}"
    client = bench.client()
    from certbench.core.x509.csr import csr_to_pem

    result = client.enroll(org_id=bench.app.org_id, cert_type=pid, csr_pem=csr_to_pem(_identity("LX5-2").csr))
    with pytest.raises(CertificateRejected, match="X-LX5-2"):
        bench.issuer().collect(NAMES[3], result.order_id)


def test_wrong_intermediate_is_refused(bench):
    # ica-2's settings point at ica-1's profile once ica-2's real certificate is known.
    issuer = bench.issuer()
    issuer.issue(NAMES[1], _identity("A-1").csr)  # learns ica-2
    swapped = bench.intermediates(**{NAMES[1]: {"profile_id": bench.app.profile_for(NAMES[0])}})
    issuer = bench.issuer(intermediates=swapped)
    with pytest.raises(CertificateRejected) as info:
        issuer.issue(NAMES[1], _identity("A-2").csr)
    assert "not by intermediate 'medicorp-ica-2'" in info.value.message


def test_key_mismatch_and_missing_client_auth_are_refused(bench):
    issuer = bench.issuer()
    one, other = _identity("K-1"), _identity("K-1")
    order_id = issuer.order(NAMES[0], one.csr)
    with pytest.raises(CertificateRejected, match="different public key"):
        issuer.collect(NAMES[0], order_id, csr=other.csr)
    # A leaf without clientAuth: swap in a server-only certificate for the order.
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from certbench.core.x509.parse import to_pem

    ca = bench.app.ca
    inter = ca.intermediate(NAMES[0]).certificate
    leaf = ca.sign_leaf(NAMES[0], one.key.public_key(), "K-1")
    builder = x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(inter.subject).public_key(
        leaf.public_key()).serial_number(leaf.serial_number).not_valid_before(leaf.not_valid_before_utc).not_valid_after(
        leaf.not_valid_after_utc).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    server_only = builder.sign(ca._key(NAMES[0]), hashes.SHA256())
    assert server_only.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "K-1"
    bench.app.orders[int(order_id)].cert_pem = to_pem([server_only])
    with pytest.raises(CertificateRejected, match="client authentication"):
        issuer.collect(NAMES[0], order_id)


def test_bad_csr_never_reaches_sectigo(bench):
    from cryptography.hazmat.primitives.serialization import Encoding

    identity = _identity()
    der = bytearray(identity.csr.public_bytes(Encoding.DER))
    der[-5] ^= 0x01
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(InputError, match="does not verify"):
        bench.issuer().order(NAMES[0], tampered)
    assert bench.app.enroll_calls == 0


def test_refusals_from_the_profile(bench):
    app = bench.app
    app.profiles[app.profile_for(NAMES[0])].key_types = {"EC": ["P-256"]}
    issuer = bench.issuer()
    with pytest.raises(SectigoRequestRefused) as info:
        issuer.order(NAMES[0], _identity(spec="rsa-2048").csr)
    assert info.value.code == -11
    bad_term = bench.intermediates(**{NAMES[0]: {"term_days": 999}})
    with pytest.raises(SectigoRequestRefused) as info:
        bench.issuer(intermediates=bad_term).order(NAMES[0], _identity().csr)
    assert info.value.code == -36 and "term_days" in info.value.hint
    unknown = bench.intermediates(**{NAMES[0]: {"profile_id": 4711}})
    with pytest.raises(SectigoRequestRefused) as info:
        bench.issuer(intermediates=unknown).order(NAMES[0], _identity().csr)
    assert info.value.code == -39 and "profile_id" in info.value.hint
    assert app.orders == {}


def test_5xx_during_collect(bench):
    issuer = bench.issuer()
    order_id = issuer.order(NAMES[0], _identity().csr)
    bench.app.faults.add("500", 2, path="/collect/")
    assert issuer.collect(NAMES[0], order_id).order_id == order_id  # retried through
    bench.app.faults.add("500", -1, path="/collect/")
    with pytest.raises(SectigoUnavailable) as info:
        issuer.collect(NAMES[0], order_id)
    assert info.value.order_id == order_id
    assert bench.app.enroll_calls == 1


def test_unexpected_format_on_collect(bench):
    issuer = bench.issuer()
    order_id = issuer.order(NAMES[0], _identity().csr)
    bench.app.faults.add("garbage", 1, path="/collect/")
    with pytest.raises(SectigoResponseError) as info:
        issuer.collect(NAMES[0], order_id)
    assert info.value.order_id == order_id and "format pem" in info.value.message
    assert issuer.collect(NAMES[0], order_id).order_id == order_id


def test_intermediate_unknown_until_fetched_or_imported(bench, tmp_path):
    issuer = bench.issuer()
    with pytest.raises(ConfigError, match="certbench ca fetch"):
        issuer.intermediate(NAMES[2])
    with pytest.raises(ConfigError, match="no issued order"):
        issuer.fetch_intermediate(NAMES[2])
    order_id = issuer.order(NAMES[2], _identity().csr)
    bench.issuer(state_dir=tmp_path / "other").collect(NAMES[2], order_id)  # issued, but in another cache
    with pytest.raises(InputError, match=f"placed on profile {bench.app.profile_for(NAMES[2])}"):
        issuer.fetch_intermediate(NAMES[1], order_id)  # ica-3's order offered for ica-2
    assert not issuer.cache_file(NAMES[1]).exists()
    info = issuer.fetch_intermediate(NAMES[2])
    assert info.certificate == bench.app.ca.intermediate(NAMES[2]).certificate
    assert is_self_signed(info.chain_above[-1])
    # Import from a PEM file for another intermediate.
    from certbench.core.x509.parse import to_pem

    pem = tmp_path / "ica3.pem"
    pem.write_text(to_pem([bench.app.ca.intermediate(NAMES[3]).certificate]))
    assert issuer.import_intermediate(NAMES[3], pem).certificate == bench.app.ca.intermediate(NAMES[3]).certificate
    with pytest.raises(ConfigError, match="same CA"):
        issuer.import_intermediate(NAMES[0], pem)


def test_configured_certificate_file_is_used(bench, tmp_path):
    from certbench.core.x509.parse import to_pem

    pem = tmp_path / "ica1.pem"
    info = bench.app.ca.intermediate(NAMES[0])
    pem.write_text(to_pem([info.chain_above[0], info.certificate]))  # root first: ordered on load
    issuer = bench.issuer(intermediates=bench.intermediates(**{NAMES[0]: {"certificate_file": str(pem)}}))
    assert issuer.intermediate(NAMES[0]).certificate == info.certificate
    issuer.collect_format = "pemco"  # certificate only: the chain comes from the file
    issued = issuer.issue(NAMES[0], _identity().csr)
    assert issued.chain[1] == info.certificate


def test_verification_certificate_through_sectigo(bench):
    issuer = bench.issuer()
    issued = issuer.issue_verification_certificate(NAMES[0], "6F1C3B0E2D4A5B6C7D8E9F00AABBCCDD")
    assert common_name(issued.certificate.subject) == "6F1C3B0E2D4A5B6C7D8E9F00AABBCCDD"


def test_revoke(bench):
    issuer = bench.issuer()
    issued = issuer.issue(NAMES[0], _identity().csr)
    issuer.revoke(issued.order_id, "keyCompromise")
    order = bench.app.orders[int(issued.order_id)]
    assert order.status == "REVOKED" and order.revocation_reason == 1
    with pytest.raises(InputError):
        issuer.revoke(issued.order_id, "because")
