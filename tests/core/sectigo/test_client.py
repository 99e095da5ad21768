"""The REST client against the emulator over real HTTPS: the three sign-in modes, every
collect format, errors with Sectigo's codes, retries."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from certbench.core.pki.sectigo.errors import (
    CertificateNotReady,
    SectigoAuthError,
    SectigoNotFound,
    SectigoRequestRefused,
    SectigoResponseError,
    SectigoUnavailable,
)
from certbench.core.pki.sectigo.formats import FORMATS, parse_collected
from certbench.core.x509.chain import order_chain
from certbench.core.x509.csr import csr_to_pem
from certbench.core.x509.identity import make_identity
from certbench.core.x509.inspect import common_name, is_self_signed

from sectigo_bench import NAMES


def _enroll(client, app, cn="MX200-000123", spec="ec-p256", intermediate=NAMES[0], **kwargs):
    identity = make_identity(cn, spec, validate_cn=False)
    result = client.enroll(org_id=app.org_id, cert_type=app.profile_for(intermediate), csr_pem=csr_to_pem(identity.csr),
                           term=365, **kwargs)
    return identity, result


@pytest.mark.parametrize("mode", ["password", "client-cert", "oauth2"])
def test_each_sign_in_mode_lists_profiles_orders_and_collects(bench, mode):
    client = bench.client(mode)
    profiles = client.profiles(org_id=bench.app.org_id)
    assert {p.id for p in profiles} == set(bench.app.profiles)
    assert all("1.3.6.1.5.5.7.3.2" in p.eku and 365 in p.terms for p in profiles)
    identity, result = _enroll(client, bench.app)
    assert result.status == "APPROVED" and result.order_id.isdigit()
    cert = parse_collected(client.collect(result.order_id, "x509CO"), "x509CO")[0]
    assert common_name(cert.subject) == "MX200-000123"
    assert cert.public_key() == identity.key.public_key()
    assert bench.app.orders[int(result.order_id)].requester in ("certbench-api", "certbench-cert-login", "api-client")


def test_client_certificate_mode_uses_the_private_prefix_and_needs_the_certificate(bench):
    client = bench.client("client-cert")
    assert client._url("/types").startswith("/private/api/device/v1")
    # The same login over the non-private path without a password is refused.
    from certbench.core.pki.sectigo.auth import Auth

    class NoCert(Auth):
        path_prefix = "/private"

        def headers(self):
            return {"login": "certbench-cert-login", "customerUri": bench.app.customer_uri}

    with pytest.raises(SectigoAuthError) as info:
        bench.client(auth=NoCert()).profiles()
    assert info.value.status == 401 and info.value.code == -970


def test_client_certificate_loaded_from_encrypted_files(bench, tmp_path, memory_keyring):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    from certbench.core import secrets
    from certbench.core.config import SectigoSettings
    from certbench.core.pki.sectigo.auth import auth_from_settings
    from certbench.core.pki.sectigo.client import SectigoClient
    from certbench.core.x509.keys import encrypt_private_key

    secrets.set_secret(secrets.SECTIGO_CLIENT_CERT_PASSPHRASE, "correct horse")
    pem_file = tmp_path / "api.pem"
    pem_file.write_bytes(bench.client_cert.public_bytes(serialization.Encoding.PEM)
                         + encrypt_private_key(bench.client_key, b"correct horse"))
    p12_file = tmp_path / "api.p12"
    p12_file.write_bytes(pkcs12.serialize_key_and_certificates(
        b"api", bench.client_key, bench.client_cert, None, serialization.BestAvailableEncryption(b"correct horse")))
    for path in (pem_file, p12_file):
        settings = SectigoSettings(base_url=bench.base_url, customer_uri=bench.app.customer_uri, login="certbench-cert-login",
                                   auth="client-cert", client_cert_file=str(path), ca_file=str(bench.ca_file), timeout_seconds=5)
        with SectigoClient.from_settings(settings) as client:
            assert client.profiles()
    # No clear key lands anywhere under the temporary folder while loading.
    assert not any(b"BEGIN PRIVATE KEY" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    secrets.set_secret(secrets.SECTIGO_CLIENT_CERT_PASSPHRASE, "wrong")
    from certbench.core.errors import InputError

    with pytest.raises(InputError, match="passphrase"):
        auth_from_settings(settings)


def test_oauth2_token_refreshed_before_expiry_and_after_401(bench):
    now = [1000.0]
    from certbench.core.pki.sectigo.auth import OAuth2Auth

    auth = OAuth2Auth(bench.base_url + "/auth/realms/apiclients/protocol/openid-connect/token", "certbench-oauth",
                      bench.oauth_secret, ca_file=bench.ca_file, timeout=5, clock=lambda: now[0])
    client = bench.client(auth=auth)
    client.profiles()
    client.profiles()
    assert auth.tokens_fetched == 1 and bench.app.tokens_issued == 1
    now[0] += 300 - 59  # inside the refresh margin (60 s) of a 300 s token
    client.profiles()
    assert auth.tokens_fetched == 2
    bench.app.expire_tokens()  # the service drops tokens early: one 401, then a fresh token
    client.profiles()
    assert auth.tokens_fetched == 3


def test_wrong_credentials_are_typed_errors_with_sectigo_codes(bench):
    from certbench.core.pki.sectigo.auth import OAuth2Auth, PasswordAuth

    app = bench.app
    with pytest.raises(SectigoAuthError) as info:
        bench.client(auth=PasswordAuth(app.login, "not-the-password", app.customer_uri)).profiles()
    assert (info.value.status, info.value.code, info.value.description) == (401, -970, "Incorrect login credentials")
    assert "not-the-password" not in str(info.value)
    with pytest.raises(SectigoAuthError) as info:
        bench.client(auth=PasswordAuth("nobody", "x", app.customer_uri)).profiles()
    assert info.value.code == -16 and "Unknown user" in info.value.message
    with pytest.raises(SectigoAuthError) as info:
        bench.client(auth=PasswordAuth(app.login, app.password, "other-customer")).profiles()
    assert info.value.code == -16
    bad_oauth = OAuth2Auth(bench.base_url + "/auth/realms/apiclients/protocol/openid-connect/token", "certbench-oauth",
                           "wrong-secret", ca_file=bench.ca_file, timeout=5)
    with pytest.raises(SectigoAuthError, match="unauthorized_client"):
        bench.client(auth=bad_oauth).profiles()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_collect_format(bench, fmt):
    client = bench.client()
    identity, result = _enroll(client, bench.app)
    raw = client.collect(result.order_id, fmt)
    certs = parse_collected(raw, fmt)
    leafs = [c for c in certs if not c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca]
    expected_count = {"x509CO": 1, "pemco": 1, "pemia": 2, "x509IO": 2, "x509IOR": 2}.get(fmt, 3)
    assert len(certs) == expected_count
    if fmt in ("x509IO", "x509IOR"):
        assert leafs == []
        assert is_self_signed(certs[0 if fmt == "x509IO" else -1])
    else:
        assert len(leafs) == 1 and leafs[0].public_key() == identity.key.public_key()
        assert order_chain(certs)[0] == leafs[0]
    if fmt in ("x509", "pem"):
        assert is_self_signed(certs[0])  # root first, as SCM may send it
    if fmt == "bin":
        assert raw[:1] == b"\x30"
        assert pkcs7.load_der_pkcs7_certificates(raw)


def test_no_format_means_pkcs7(bench):
    client = bench.client()
    _, result = _enroll(client, bench.app)
    response = client._http.get(client._url(f"/collect/{result.order_id}"), headers=client.auth.headers())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content.startswith(b"-----BEGIN PKCS7-----")
    assert len(pkcs7.load_pem_pkcs7_certificates(response.content)) == 3


def test_unknown_format_and_unknown_order(bench):
    client = bench.client()
    _, result = _enroll(client, bench.app)
    response = client._http.get(client._url(f"/collect/{result.order_id}"), params={"format": "docx"},
                                headers=client.auth.headers())
    assert response.status_code == 400 and response.json()["code"] == -126
    with pytest.raises(SectigoNotFound) as info:
        client.collect("999999", "pem")
    assert info.value.status == 404 and info.value.code == -5101


def test_validation_errors_keep_code_and_description(bench):
    client, app = bench.client(), bench.app
    identity = make_identity("MX200-1", "ec-p256", validate_cn=False)
    pem = csr_to_pem(identity.csr)
    cases = [
        (dict(org_id=app.org_id, cert_type=9999, csr_pem=pem), -39),
        (dict(org_id=777, cert_type=app.profile_for(NAMES[0]), csr_pem=pem), -4),
        (dict(org_id=app.org_id, cert_type=app.profile_for(NAMES[0]), csr_pem=pem, term=1000), -36),
        (dict(org_id=app.org_id, cert_type=app.profile_for(NAMES[0]), csr_pem="not a csr"), -10),
    ]
    for kwargs, code in cases:
        with pytest.raises(SectigoRequestRefused) as info:
            client.enroll(**kwargs)
        assert info.value.status == 400 and info.value.code == code, kwargs
        assert info.value.description and info.value.description in info.value.message
    assert app.orders == {}


def test_csr_with_bad_signature_refused_by_the_service(bench):
    from cryptography.hazmat.primitives.serialization import Encoding

    identity = make_identity("MX200-2", "ec-p256", validate_cn=False)
    der = bytearray(identity.csr.public_bytes(Encoding.DER))
    der[-5] ^= 0x01  # flip a bit in the signature
    import base64

    pem = "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.encodebytes(bytes(der)).decode() + "-----END CERTIFICATE REQUEST-----\n"
    with pytest.raises(SectigoRequestRefused) as info:
        bench.client().enroll(org_id=bench.app.org_id, cert_type=bench.app.profile_for(NAMES[0]), csr_pem=pem)
    assert info.value.code in (-9, -10, -138)
    assert bench.app.orders == {}


def test_key_type_refused_by_profile(bench):
    pid = bench.app.profile_for(NAMES[1])
    bench.app.profiles[pid].key_types = {"EC": ["P-256"]}
    client = bench.client()
    for spec, code in (("rsa-2048", -11), ("ec-p384", -13)):
        with pytest.raises(SectigoRequestRefused) as info:
            _enroll(client, bench.app, spec=spec, intermediate=NAMES[1])
        assert info.value.code == code
        assert "key" in info.value.hint


def test_pending_collect_is_a_400_with_a_pending_code_never_401_or_404(bench):
    client = bench.client()
    for code in (0, -183, -109, -1400, -195):
        bench.app.pending_collects, bench.app.pending_code = 1, code
        _, result = _enroll(client, bench.app)
        with pytest.raises(CertificateNotReady) as info:
            client.collect(result.order_id, "pem")
        assert (info.value.status, info.value.code, info.value.order_id) == (400, code, result.order_id)
        assert parse_collected(client.collect(result.order_id, "pem"), "pem")


def test_transient_failures_are_retried(bench):
    client = bench.client()
    _, result = _enroll(client, bench.app)
    bench.app.faults.add("500", 1, path="/collect/")
    bench.app.faults.add("429", 1, path="/collect/", retry_after=0)
    assert parse_collected(client.collect(result.order_id, "pem"), "pem")
    assert [kind for kind, *_ in bench.app.faults.hits] == ["500", "429"]


def test_5xx_that_persists_is_a_typed_error_carrying_the_order(bench):
    client = bench.client()
    _, result = _enroll(client, bench.app)
    bench.app.faults.add("503", -1, path="/collect/")
    with pytest.raises(SectigoUnavailable) as info:
        client.collect(result.order_id, "pem")
    assert info.value.order_id == result.order_id and info.value.status == 503
    assert info.value.code == -14 and "An unknown error occurred" in info.value.message
    assert f"certbench sectigo collect {result.order_id}" in info.value.hint


def test_enroll_is_not_retried_after_a_500(bench):
    bench.app.faults.add("500", 1, path="/enroll")
    with pytest.raises(SectigoUnavailable) as info:
        _enroll(bench.client(), bench.app)
    assert "may or may not have been placed" in info.value.hint
    assert len(bench.app.faults.hits) == 1  # one try only


def test_timeouts_apply(bench):
    bench.app.faults.add("latency", -1, path="/types", seconds=1.0)
    client = bench.client(timeout=0.2)
    with pytest.raises(SectigoUnavailable, match="ReadTimeout"):
        client.profiles()


def test_unexpected_json_answer(bench):
    bench.app.faults.add("garbage", 1, path="/types")
    with pytest.raises(SectigoResponseError, match="not JSON"):
        bench.client().profiles()


def test_details_list_approve_decline_revoke(bench):
    client, app = bench.client(), bench.app
    identity, first = _enroll(client, app, cn="MX200-A")
    _, second = _enroll(client, app, cn="MX200-B")
    cert = parse_collected(client.collect(first.order_id, "x509CO"), "x509CO")[0]
    details = client.details(first.order_id)
    assert details.status == "ISSUED" and details.raw["status"] == "Issued"  # casing differs from enroll
    assert details.common_name == "MX200-A" and details.cert_type_id == app.profile_for(NAMES[0])
    rows, total = client.list_orders(size=1, position=0)
    assert total == 2 and len(rows) == 1
    rows, total = client.list_orders(common_name="MX200-B")
    assert total == 1 and rows[0].order_id == second.order_id
    client.revoke_order(first.order_id, reason_code=4, reason="superseded")
    assert client.details(first.order_id).status == "REVOKED"
    with pytest.raises(Exception) as info:
        client.collect(first.order_id, "pem")
    assert info.value.code == -110
    parse_collected(client.collect(second.order_id, "pem"), "pem")
    serial = client.details(second.order_id).serial_number
    client.revoke_serial(serial)
    assert client.details(second.order_id).status == "REVOKED"
    with pytest.raises(SectigoNotFound):
        client.revoke_serial("ABCDEF")
    assert cert.serial_number != 0
    # Approval profile: REQUESTED, then approve / decline.
    identity = make_identity("MX200-C", "ec-p256", validate_cn=False)
    pending = client.enroll(org_id=app.org_id, cert_type=app.approval_profile_id, csr_pem=csr_to_pem(identity.csr))
    assert pending.awaiting_approval
    with pytest.raises(CertificateNotReady) as info:
        client.collect(pending.order_id, "pem")
    assert info.value.code == -183
    client.approve(pending.order_id, "ok")
    assert parse_collected(client.collect(pending.order_id, "pem"), "pem")
    declined = client.enroll(org_id=app.org_id, cert_type=app.approval_profile_id, csr_pem=csr_to_pem(identity.csr))
    client.decline(declined.order_id, "no")
    assert client.details(declined.order_id).status == "DECLINED"
    with pytest.raises(SectigoRequestRefused):
        client.approve(declined.order_id)


def test_enroll_retried_after_429_places_one_order(bench):
    bench.app.faults.add("429", 1, path="/enroll", retry_after=0)
    _, result = _enroll(bench.client(), bench.app)
    assert list(bench.app.orders) == [int(result.order_id)] and bench.app.enroll_calls == 1
