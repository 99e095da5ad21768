"""The emulator checks what IoT Central checks, over raw HTTPS: ids, entries, required
fields, certificate form, one certificate in one group, codes bound to the certificate,
verify really checking CN, signature and validity; state for the DPS emulator; JSON
persistence; thread safety."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from iotc_certs import b64pem, expired_ca, leaf

from certbench.core.emulators.iotcentral import IoTCentralState, run_emulator
from certbench.core.emulators.iotcentral.state import STATE_FILE
from certbench.core.x509.inspect import sha1_thumbprint

GROUP = {"displayName": "G", "type": "iot", "attestation": {"type": "x509"}}


def _error(response):
    body = response.json()["error"]
    assert response.headers["x-ms-error-code"] == body["code"]
    assert body["requestId"] and body["time"]
    return response.status_code, body["code"], body["message"]


def _group(raw, group_id="g1"):
    assert raw("PUT", f"/api/enrollmentGroups/{group_id}", json=GROUP).status_code == 200


def test_api_version_is_required_and_checked(raw):
    assert _error(raw("GET", "/api/enrollmentGroups", params={}))[:2] == (400, "MissingApiVersionParameter")
    status, code, _ = _error(raw("GET", "/api/enrollmentGroups", params={"api-version": "2019-01-01"}))
    assert (status, code) == (400, "InvalidApiVersionParameter")


def test_missing_or_unknown_token_is_401(raw, emulator):
    assert _error(raw("GET", "/api/devices", token=""))[0] == 401
    assert _error(raw("GET", "/api/devices", token="SharedAccessSignature sr=x&sig=y&skn=z&se=1"))[0] == 401
    bearer = emulator.state.issue_token(kind="bearer")
    assert raw("GET", "/api/devices", token=f"Bearer {bearer}").status_code == 200
    assert _error(raw("GET", "/api/devices", token=bearer))[0] == 401  # without its scheme word


@pytest.mark.parametrize("group_id", ["bad%20id", "under_score", "dot.ted", "x" * 256])
def test_group_id_pattern(raw, group_id):
    status, code, message = _error(raw("PUT", f"/api/enrollmentGroups/{group_id}", json=GROUP))
    assert (status, code) == (400, "InvalidId") and "letters, digits and hyphens" in message


@pytest.mark.parametrize("missing", ["displayName", "type", "attestation"])
def test_group_required_fields(raw, emulator, missing):
    body = {k: v for k, v in GROUP.items() if k != missing}
    status, code, message = _error(raw("PUT", "/api/enrollmentGroups/g1", json=body))
    assert (status, code) == (422, "InvalidBody") and missing in message
    assert emulator.state.groups == {}


@pytest.mark.parametrize("body", [
    {**GROUP, "type": "edge"}, {**GROUP, "attestation": {"type": "tpm"}}, {**GROUP, "enabled": "yes"},
    {**GROUP, "displayName": " "}, [1, 2],
])
def test_group_invalid_values(raw, emulator, body):
    assert _error(raw("PUT", "/api/enrollmentGroups/g1", json=body))[0] == 422
    assert emulator.state.groups == {}


def test_malformed_json_is_400(raw):
    assert _error(raw("PUT", "/api/enrollmentGroups/g1", content=b"{not json",
                      headers={"Content-Type": "application/json"}))[:2] == (400, "InvalidJson")


def test_entry_names(raw, local_ca):
    _group(raw)
    body = {"certificate": b64pem(local_ca.intermediate("medicorp-ica-1").certificate)}
    assert _error(raw("PUT", "/api/enrollmentGroups/g1/certificates/tertiary", json=body))[:2] == (
        400, "InvalidCertificateEntry")
    assert _error(raw("GET", "/api/enrollmentGroups/g1/certificates/secondary"))[0] == 404
    assert _error(raw("PUT", "/api/enrollmentGroups/nope/certificates/primary", json=body))[0] == 404


def test_certificate_form_is_base64_of_pem(raw, local_ca, emulator):
    _group(raw)
    ica = local_ca.intermediate("medicorp-ica-1").certificate
    pem = ica.public_bytes(Encoding.PEM)
    der_b64 = base64.b64encode(ica.public_bytes(Encoding.DER)).decode()
    two = base64.b64encode(pem + local_ca.intermediate("medicorp-ica-2").certificate.public_bytes(Encoding.PEM)).decode()
    for bad, words in ((pem.decode(), "not the PEM text"), (der_b64, "DER"), ("%%%", "base64"),
                       (two, "exactly one"), ("", "required"), (42, "required")):
        status, code, message = _error(raw("PUT", "/api/enrollmentGroups/g1/certificates/primary",
                                           json={"certificate": bad}))
        assert (status, code) == (422, "InvalidCertificate") and words in message
    assert _error(raw("PUT", "/api/enrollmentGroups/g1/certificates/primary", json={}))[0] == 422
    assert emulator.state.groups["g1"].certificates == {}


def test_non_ca_and_expired_certificates_are_refused(raw, local_ca, emulator):
    _group(raw)
    device = leaf(local_ca, "medicorp-ica-1", "mx200-0001")
    status, _, message = _error(raw("PUT", "/api/enrollmentGroups/g1/certificates/primary",
                                    json={"certificate": b64pem(device)}))
    assert status == 422 and "not a CA certificate" in message
    old, _ = expired_ca()
    status, _, message = _error(raw("PUT", "/api/enrollmentGroups/g1/certificates/primary",
                                    json={"certificate": b64pem(old)}))
    assert status == 422 and "expired" in message
    assert emulator.state.groups["g1"].certificates == {}


def test_one_certificate_in_one_group_only(raw, local_ca, emulator):
    _group(raw, "g1")
    _group(raw, "g2")
    body = {"certificate": b64pem(local_ca.intermediate("medicorp-ica-1").certificate)}
    assert raw("PUT", "/api/enrollmentGroups/g1/certificates/primary", json=body).status_code == 200
    # Same entry again: idempotent.
    assert raw("PUT", "/api/enrollmentGroups/g1/certificates/primary", json=body).status_code == 200
    for path in ("/api/enrollmentGroups/g2/certificates/primary", "/api/enrollmentGroups/g1/certificates/secondary"):
        status, code, message = _error(raw("PUT", path, json=body))
        assert (status, code) == (422, "CertificateInUse") and "'g1'" in message
    assert emulator.state.groups["g2"].certificates == {}
    assert "secondary" not in emulator.state.groups["g1"].certificates


def test_concurrent_uploads_of_one_certificate_leave_it_in_one_group(raw, local_ca, emulator):
    for i in range(8):
        _group(raw, f"g{i}")
    body = {"certificate": b64pem(local_ca.intermediate("medicorp-ica-1").certificate)}
    results = []
    barrier = threading.Barrier(8)

    def upload(i):
        barrier.wait()
        results.append(raw("PUT", f"/api/enrollmentGroups/g{i}/certificates/primary", json=body).status_code)

    # httpx.Client is thread-safe; each thread gets its own connection from the pool.
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [422] * 7
    holders = [g.id for g in emulator.state.groups.values() if g.certificates]
    assert len(holders) == 1


def _upload(raw, local_ca, name="medicorp-ica-1", group="g1", entry="primary"):
    body = {"certificate": b64pem(local_ca.intermediate(name).certificate)}
    assert raw("PUT", f"/api/enrollmentGroups/{group}/certificates/{entry}", json=body).status_code == 200


def _code(raw, group="g1", entry="primary"):
    response = raw("POST", f"/api/enrollmentGroups/{group}/certificates/{entry}/generateVerificationCode")
    assert response.status_code == 200
    return response.json()["verificationCode"]


def _verify(raw, cert, group="g1", entry="primary"):
    return raw("POST", f"/api/enrollmentGroups/{group}/certificates/{entry}/verify", json={"certificate": b64pem(cert)})


def test_codes_are_random_and_bound_to_the_current_certificate(raw, local_ca):
    _group(raw)
    _upload(raw, local_ca)
    first, second = _code(raw), _code(raw)
    assert first != second and len(first) >= 32
    # The newer code replaces the older one.
    status, code, _ = _error(_verify(raw, leaf(local_ca, "medicorp-ica-1", first)))
    assert (status, code) == (400, "CertificateVerificationFailed")
    # A new upload voids the pending code.
    raw("DELETE", "/api/enrollmentGroups/g1/certificates/primary")
    _upload(raw, local_ca, "medicorp-ica-3")
    status, code, _ = _error(_verify(raw, leaf(local_ca, "medicorp-ica-3", second)))
    assert (status, code) == (400, "VerificationCodeNotFound")


def test_verify_checks_cn_signature_and_validity(raw, local_ca, emulator):
    _group(raw)
    _upload(raw, local_ca)
    code = _code(raw)
    cases = [
        (leaf(local_ca, "medicorp-ica-1", "NOT-THE-CODE"), "does not match the verification code"),
        (leaf(local_ca, "medicorp-ica-2", code), "not signed by the private key"),
        (leaf(local_ca, "medicorp-ica-1", code, expired=True), "expired"),
    ]
    for cert, words in cases:
        status, error_code, message = _error(_verify(raw, cert))
        assert (status, error_code) == (400, "CertificateVerificationFailed") and words in message
        assert emulator.state.groups["g1"].certificates["primary"].verified is False
    assert _verify(raw, leaf(local_ca, "medicorp-ica-1", code)).status_code == 204
    assert raw("GET", "/api/enrollmentGroups/g1/certificates/primary").json()["verified"] is True
    # The code was used up.
    assert _error(_verify(raw, leaf(local_ca, "medicorp-ica-1", code)))[1] == "VerificationCodeNotFound"


def test_self_attested_upload_is_verified_at_once(raw, local_ca):
    _group(raw)
    body = {"certificate": b64pem(local_ca.intermediate("medicorp-ica-1").certificate), "verified": True}
    assert raw("PUT", "/api/enrollmentGroups/g1/certificates/primary", json=body).json()["verified"] is True


def test_verified_ca_certificates_for_the_dps_emulator(raw, local_ca, emulator):
    _group(raw, "g1")
    _group(raw, "g2")
    _upload(raw, local_ca, "medicorp-ica-1", "g1", "primary")
    _upload(raw, local_ca, "medicorp-ica-2", "g1", "secondary")
    _upload(raw, local_ca, "medicorp-ica-3", "g2", "primary")
    for group, entry, name in (("g1", "primary", "medicorp-ica-1"), ("g2", "primary", "medicorp-ica-3")):
        assert _verify(raw, leaf(local_ca, name, _code(raw, group, entry)), group, entry).status_code == 204
    found = {(v.group_id, v.entry, v.thumbprint) for v in emulator.state.verified_ca_certificates()}
    assert found == {("g1", "primary", sha1_thumbprint(local_ca.intermediate("medicorp-ica-1").certificate)),
                     ("g2", "primary", sha1_thumbprint(local_ca.intermediate("medicorp-ica-3").certificate))}
    raw("PATCH", "/api/enrollmentGroups/g2", json={"enabled": False})
    assert [v.group_id for v in emulator.state.verified_ca_certificates()] == ["g1"]
    assert len(emulator.state.verified_ca_certificates(include_disabled=True)) == 2
    verified = emulator.state.verified_ca_certificates()[0]
    assert verified.certificate == local_ca.intermediate("medicorp-ica-1").certificate
    group = raw("GET", "/api/enrollmentGroups/g1").json()
    assert group["idScope"] == emulator.state.id_scope == emulator.id_scope


def test_devices_validation_and_paging(raw, emulator):
    assert _error(raw("PUT", "/api/devices/bad_id", json={}))[:2] == (400, "InvalidId")
    assert _error(raw("PUT", "/api/devices/d1", json={"provisioned": True}))[0] == 422
    assert _error(raw("PUT", "/api/devices/d1", json={"simulated": "no"}))[0] == 422
    for i in range(5):
        assert raw("PUT", f"/api/devices/d{i}", json={"displayName": f"D{i}"}).status_code == 200
    page = raw("GET", "/api/devices", params={"api-version": "2022-07-31", "maxpagesize": "2"}).json()
    assert [d["id"] for d in page["value"]] == ["d0", "d1"] and "nextLink" in page
    assert page["nextLink"].startswith(emulator.base_url)
    for bad in ("0", "101", "x"):
        assert _error(raw("GET", "/api/devices", params={"api-version": "2022-07-31", "maxpagesize": bad}))[0] == 400
    assert raw("DELETE", "/api/devices/d1").status_code == 204
    assert _error(raw("DELETE", "/api/devices/d1"))[0] == 404
    device = emulator.state.upsert_device("d9", provisioned=True)
    assert device["provisioned"] is True
    assert raw("GET", "/api/devices/d9").json()["provisioned"] is True


def test_state_persists_without_clear_tokens(tmp_path, local_ca):
    state_dir = tmp_path / "state"
    with run_emulator(state_dir=state_dir) as first:
        state = first.state
        state.put_group("g1", "G1", "iot", True, "x509")
        state.set_certificate("g1", "primary", b64pem(local_ca.intermediate("medicorp-ica-1").certificate), False)
        state.upsert_device("mx200-0001")
        token, scope = first.token, first.id_scope
    saved = (state_dir / STATE_FILE).read_text()
    assert token not in saved and token.split("sig=")[1].split("&")[0] not in saved
    assert json.loads(saved)["id_scope"] == scope
    reloaded = IoTCentralState(state_dir)
    assert reloaded.id_scope == scope
    assert reloaded.groups["g1"].certificates["primary"].thumbprint == sha1_thumbprint(
        local_ca.intermediate("medicorp-ica-1").certificate)
    assert "mx200-0001" in reloaded.devices
    assert reloaded.authenticate(token).role == "admin"  # the old token still works after a restart


def test_rate_limit_answers_429_without_retry_after(raw, emulator):
    emulator.app.rate_limit = 3
    statuses = [raw("GET", "/api/devices") for _ in range(6)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all("Retry-After" not in r.headers for r in limited)
    assert _error(limited[0])[1] == "TooManyRequests"


def test_fault_responses_use_the_service_error_body(raw, emulator):
    emulator.app.faults.add("500", 1)
    emulator.app.faults.add("429", 1, retry_after=2)
    first, second = raw("GET", "/api/devices"), raw("GET", "/api/devices")
    assert _error(first)[:2] == (500, "InternalServerError")
    assert _error(second)[:2] == (429, "TooManyRequests") and second.headers["Retry-After"] == "2"
