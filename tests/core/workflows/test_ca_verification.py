"""CA proof of possession end to end over real HTTPS against the IoT Central emulator, with
the local CA as Issuer; every bad input and fault ends clearly and leaves nothing half-done."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from certbench.core.errors import InputError
from certbench.core.iotcentral import (
    IoTCentralAuthError,
    IoTCentralConnectionError,
    IoTCentralInvalidRequest,
)
from certbench.core.pki.base import IntermediateInfo, IssuedCertificate, Issuer
from certbench.core.workflows.ca_verification import (
    AUDIT_EVENT,
    AUDIT_UPLOAD,
    STEPS,
    VerificationCertificateError,
    status,
    verify_intermediate,
)
from certbench.core.x509.inspect import sha1_thumbprint
from certbench.core.x509.keys import generate_key

NOW = dt.datetime.now(dt.timezone.utc)


class Tampered(Issuer):
    """Delegates to a real LocalCA, with the verification certificate or the intermediate's
    certificate swapped for a bad one."""

    kind = "tampered"

    def __init__(self, inner, *, verification=None, intermediate_cert=None) -> None:
        self.inner = inner
        self._verification = verification  # (inner, intermediate, code) -> certificate
        self._intermediate_cert = intermediate_cert
        self.issued: list[x509.Certificate] = []

    def intermediate_names(self):
        return self.inner.intermediate_names()

    def intermediate(self, name):
        info = self.inner.intermediate(name)
        if self._intermediate_cert is not None:
            return IntermediateInfo(name, self._intermediate_cert, info.chain_above)
        return info

    def order(self, intermediate, csr, *, comment=""):
        return self.inner.order(intermediate, csr, comment=comment)

    def collect(self, intermediate, order_id, *, wait=True):
        return self.inner.collect(intermediate, order_id, wait=wait)

    def revoke(self, order_id, reason="superseded"):
        self.inner.revoke(order_id, reason)

    def issue_verification_certificate(self, intermediate, code):
        cert = self._verification(self.inner, intermediate, code)
        self.issued.append(cert)
        return IssuedCertificate(cert, intermediate, "tampered")


def _leaf(ca, intermediate, cn, **kwargs):
    return ca.sign_leaf(intermediate, generate_key("ec-p256").public_key(), cn, **kwargs)


BAD_VERIFICATIONS = {
    "wrong-cn": (lambda ca, i, code: _leaf(ca, i, code[::-1]), "does not match the verification code", "CN"),
    "other-ca": (lambda ca, i, code: _leaf(ca, "medicorp-ica-4", code), "not signed by the private key", "not signed by"),
    "expired": (lambda ca, i, code: _leaf(ca, i, code, not_before=NOW - dt.timedelta(days=9),
                                          not_after=NOW - dt.timedelta(days=2)), "expired", "not valid now"),
}


def _expired_ca_certificate():
    key = generate_key("ec-p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old issuing CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=400))
            .not_valid_after(NOW - dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))


def _changes(emulator, since=0):
    return [c for c in emulator.app.calls[since:] if c[0] != "GET"]


def test_four_intermediates_into_two_groups_and_status_shows_all_verified(client, local_ca, emulator, intermediates):
    events, audits = [], []
    outcomes = []
    for item in intermediates:
        outcomes.append(verify_intermediate(client, local_ca, item.name, group=item.group, entry=item.entry,
                                            progress=events.append, audit=lambda *a: audits.append(a)))
    assert all(o.verified and not o.already_verified and o.uploaded for o in outcomes)
    placed = {(v.group_id, v.entry): v.thumbprint for v in emulator.state.verified_ca_certificates()}
    assert placed == {(i.group, i.entry): sha1_thumbprint(local_ca.intermediate(i.name).certificate)
                      for i in intermediates}
    assert {g for g, _ in placed} == {"medicorp-devices-1", "medicorp-devices-2"}

    first_run = [e for e in events if e.detail.get("intermediate") is None][: 2 * len(STEPS)]
    assert [e.step for e in first_run if e.status == "done"] == list(STEPS)
    assert all(e.status in ("started", "done") for e in first_run)
    assert [a[:2] for a in audits].count((AUDIT_EVENT, "verified")) == 4
    assert [a[:2] for a in audits].count((AUDIT_UPLOAD, "uploaded")) == 4
    assert all("SharedAccessSignature" not in str(a) for a in audits)

    rows = status(client, intermediates, lambda n: local_ca.intermediate(n).certificate)
    assert [(r.name, r.state, r.verified, r.found_group, r.found_entry) for r in rows] == [
        (i.name, "verified", True, i.group, i.entry) for i in intermediates]
    assert all(r.thumbprint and r.days_left > 365 and r.problem is None for r in rows)


def test_a_second_run_reports_and_changes_nothing(client, local_ca, emulator):
    verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary")
    before = len(emulator.app.calls)
    events, audits = [], []
    again = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary",
                                progress=events.append, audit=lambda *a: audits.append(a))
    assert again.already_verified and again.verified and not again.uploaded
    assert _changes(emulator, before) == []
    assert {e.step for e in events if e.status == "skipped"} == {"upload", "code", "issue", "check-local", "verify"}
    assert audits[-1][:2] == (AUDIT_EVENT, "already-verified")


def test_a_different_certificate_is_never_overwritten_without_replace(client, local_ca, emulator):
    first = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary")
    before = len(emulator.app.calls)
    with pytest.raises(InputError) as info:
        verify_intermediate(client, local_ca, "medicorp-ica-2", group="g1", entry="primary")
    assert first.thumbprint in info.value.message and "--replace" in info.value.hint
    assert _changes(emulator, before) == []
    assert client.get_certificate("g1", "primary").sha1_thumbprint == first.thumbprint

    replaced = verify_intermediate(client, local_ca, "medicorp-ica-2", group="g1", entry="primary", replace=True)
    assert replaced.verified and replaced.replaced_thumbprint == first.thumbprint
    entry = client.get_certificate("g1", "primary")
    assert entry.verified and entry.sha1_thumbprint == replaced.thumbprint


def test_a_certificate_already_in_another_group_is_refused_before_anything_changes(client, local_ca, emulator):
    verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary")
    before = len(emulator.app.calls)
    with pytest.raises(InputError) as info:
        verify_intermediate(client, local_ca, "medicorp-ica-1", group="g2", entry="secondary")
    assert "'g1'" in info.value.message and "--group g1 --entry primary" in info.value.hint
    assert _changes(emulator, before) == [] and "g2" not in emulator.state.groups


@pytest.mark.parametrize("bad", ["non-ca", "expired"])
def test_non_ca_or_expired_intermediate_is_refused_before_upload(client, local_ca, emulator, bad):
    cert = _leaf(local_ca, "medicorp-ica-1", "mx200-0001") if bad == "non-ca" else _expired_ca_certificate()
    audits = []
    with pytest.raises(InputError) as info:
        verify_intermediate(client, Tampered(local_ca, intermediate_cert=cert), "medicorp-ica-1",
                            group="g1", entry="primary", audit=lambda *a: audits.append(a))
    assert ("not a CA certificate" if bad == "non-ca" else "expired") in info.value.message
    assert emulator.app.calls == []
    assert audits == [(AUDIT_EVENT, "failed", {"intermediate": "medicorp-ica-1", "group": "g1", "entry": "primary",
                                               "error": info.value.message, "error_type": "InputError"})]
    # The emulator refuses the same certificate, as the service would.
    client.create_group("g1", "G1")
    with pytest.raises(IoTCentralInvalidRequest) as refused:
        client.set_certificate("g1", "primary", cert)
    assert refused.value.status == 422 and refused.value.code == "InvalidCertificate"


@pytest.mark.parametrize("case", sorted(BAD_VERIFICATIONS))
def test_bad_verification_certificate_is_caught_locally_and_by_the_emulator(client, local_ca, emulator, case):
    make, service_words, local_words = BAD_VERIFICATIONS[case]
    issuer = Tampered(local_ca, verification=make)
    with pytest.raises(VerificationCertificateError) as info:
        verify_intermediate(client, issuer, "medicorp-ica-1", group="g1", entry="primary")
    assert local_words in info.value.message
    assert not any(path.endswith("/verify") for _, path in emulator.app.calls)
    assert client.get_certificate("g1", "primary").verified is False
    # Sent anyway, the emulator rejects it with the service's error; the code is still pending.
    with pytest.raises(IoTCentralInvalidRequest) as refused:
        client.verify_certificate("g1", "primary", issuer.issued[-1])
    assert refused.value.status == 400 and refused.value.code == "CertificateVerificationFailed"
    assert service_words in refused.value.service_message
    assert client.get_certificate("g1", "primary").verified is False
    # A run with a sound issuer resumes from the uploaded certificate.
    outcome = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary")
    assert outcome.verified and not outcome.uploaded


@pytest.mark.parametrize("kind", ["wrong", "expired"])
def test_wrong_or_expired_token_changes_nothing(make_client, local_ca, emulator, kind):
    token = emulator.state.issue_token(lifetime=-1) if kind == "expired" else emulator.token.replace("sig=", "sig=x")
    with pytest.raises(IoTCentralAuthError) as info:
        verify_intermediate(make_client(token), local_ca, "medicorp-ica-1", group="g1", entry="primary")
    assert "wrong or has expired" in info.value.message
    assert emulator.state.groups == {} and emulator.app.calls == []


@pytest.mark.parametrize("group", ["medicorp devices", "medicorp_devices", "grp/1", ""])
def test_bad_group_id_is_refused_before_anything_is_sent(client, local_ca, emulator, group):
    with pytest.raises(InputError) as info:
        verify_intermediate(client, local_ca, "medicorp-ica-1", group=group, entry="primary")
    assert "letters, digits and hyphens" in info.value.hint
    assert emulator.app.calls == []


def test_bad_entry_and_unknown_intermediate(client, local_ca, emulator):
    with pytest.raises(InputError, match="primary or secondary"):
        verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="third")
    with pytest.raises(InputError, match="no intermediate named"):
        verify_intermediate(client, local_ca, "medicorp-ica-9", group="g1", entry="primary")
    assert emulator.app.calls == []


def test_429_storms_and_500s_are_ridden_out(client, local_ca, emulator):
    faults = emulator.app.faults
    faults.add("429", 3, path="/api/enrollmentGroups$", retry_after=0.01)
    faults.add("429", 2, path="generateVerificationCode")  # no Retry-After: backoff
    faults.add("500", 2, path="/certificates/primary$", method="GET")
    faults.add("503", 1, path="/certificates/primary$", method="PUT")
    faults.add("429", 3, path="/verify$", retry_after=0)
    outcome = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary")
    assert outcome.verified
    kinds = [h[0] for h in faults.hits]
    assert kinds.count("429") == 8 and kinds.count("500") == 2 and kinds.count("503") == 1


def test_connection_dropped_on_verify_resumes_within_the_run(client, local_ca, emulator):
    emulator.app.faults.add("drop", 1, path="/verify$")
    events = []
    outcome = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary",
                                  progress=events.append)
    assert outcome.verified
    assert [e.status for e in events if e.step == "verify"] == ["started", "failed", "started", "done"]
    assert sum(1 for _, p in emulator.app.calls if p.endswith("generateVerificationCode")) == 2


def test_verify_that_took_effect_but_lost_its_answer_is_confirmed_not_redone(client, local_ca, emulator):
    # IoT Central verified the certificate, but the answer never arrived: the workflow must
    # find the entry verified and stop, not ask for a new code and verify again.
    emulator.app.faults.add("drop-after", 1, path="/verify$")
    events = []
    outcome = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary",
                                  progress=events.append)
    assert outcome.verified
    assert client.get_certificate("g1", "primary").verified is True
    assert [h[0] for h in emulator.app.faults.hits] == ["drop-after"]
    assert sum(1 for _, p in emulator.app.calls if p.endswith("generateVerificationCode")) == 1
    assert sum(1 for _, p in emulator.app.calls if p.endswith("/verify")) == 1


def test_connection_dropped_on_the_code_is_retried(client, local_ca, emulator):
    emulator.app.faults.add("drop", 1, path="generateVerificationCode$")
    assert verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary").verified


def test_a_run_broken_between_code_and_verify_is_finished_by_the_next(client, local_ca, emulator, intermediates):
    emulator.app.faults.add("drop", -1, path="/verify$")
    audits = []
    with pytest.raises(IoTCentralConnectionError):
        verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary",
                            audit=lambda *a: audits.append(a))
    assert audits[-1][1] == "failed"
    entry = client.get_certificate("g1", "primary")
    assert entry.verified is False and entry.sha1_thumbprint
    row = status(client, [type(intermediates[0])("medicorp-ica-1", group="g1", entry="primary")],
                 lambda n: local_ca.intermediate(n).certificate)[0]
    assert (row.state, row.verified) == ("uploaded", False)

    emulator.app.faults.clear()
    before = len(emulator.app.calls)
    events = []
    outcome = verify_intermediate(client, local_ca, "medicorp-ica-1", group="g1", entry="primary",
                                  progress=events.append)
    assert outcome.verified and not outcome.uploaded
    assert ("PUT", "/api/enrollmentGroups/g1/certificates/primary") not in emulator.app.calls[before:]
    assert any(e.step == "upload" and e.status == "skipped" for e in events)


def test_status_shows_each_kind_of_state(client, local_ca, emulator, intermediates):
    a, b, c, d = intermediates
    verify_intermediate(client, local_ca, a.name, group=a.group, entry=a.entry)
    client.create_group(c.group, "G2")
    client.set_certificate(c.group, c.entry, local_ca.intermediate(c.name).certificate)  # uploaded only
    client.set_certificate(c.group, d.entry, local_ca.intermediate(b.name).certificate)  # b in d's place

    def cert_for(name):
        if name == d.name:
            raise InputError("The certificate file is missing.")
        return local_ca.intermediate(name).certificate

    rows = {r.name: r for r in status(client, intermediates, cert_for)}
    assert rows[a.name].state == "verified" and rows[a.name].problem is None
    assert rows[c.name].state == "uploaded" and not rows[c.name].verified
    assert rows[b.name].state == "uploaded" and "but found in" in rows[b.name].problem
    assert rows[d.name].state == "unknown" and rows[d.name].problem == "The certificate file is missing."
    client.remove_certificate(c.group, d.entry)
    rows = {r.name: r for r in status(client, intermediates, lambda n: local_ca.intermediate(n).certificate)}
    assert rows[b.name].state == "not-uploaded"
    assert rows[d.name].state == "not-uploaded"
