"""certbench.core.x509.inspect: the summary against independently computed values."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from x509_factory import NOW, make_cert, new_key, shared_chain

from certbench.core.x509.inspect import (
    CertSummary,
    display_name,
    is_ca,
    sha1_thumbprint,
    sha256_fingerprint,
    summarize,
    warnings_for_intermediate,
)
from certbench.core.x509.parse import to_der, to_pem

OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def chain():
    return shared_chain()


def test_fingerprints_match_hashlib(chain):
    der = to_der(chain.leaf.cert)
    sha256 = hashlib.sha256(der).hexdigest().upper()
    assert sha256_fingerprint(chain.leaf.cert) == ":".join(re.findall("..", sha256))
    assert sha1_thumbprint(chain.leaf.cert) == hashlib.sha1(der).hexdigest().upper()  # noqa: S324
    assert re.fullmatch("[0-9A-F]{40}", sha1_thumbprint(chain.leaf.cert))


@pytest.mark.skipif(not OPENSSL, reason="openssl is not installed: no independent fingerprint to compare")
def test_fingerprints_and_serial_match_openssl(chain, tmp_path):
    path = tmp_path / "c.pem"
    path.write_text(to_pem([chain.inter.cert]))
    out = subprocess.run(
        [OPENSSL, "x509", "-in", str(path), "-noout", "-fingerprint", "-sha1", "-serial"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    sha1 = re.search(r"Fingerprint=([0-9A-F:]+)", out).group(1).replace(":", "")
    serial = re.search(r"serial=([0-9A-F]+)", out).group(1)
    summary = summarize(chain.inter.cert)
    assert summary.sha1_thumbprint == sha1
    assert summary.serial_hex.lstrip("0") == serial.lstrip("0")
    out = subprocess.run([OPENSSL, "x509", "-in", str(path), "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert summary.sha256_fingerprint == out.strip().split("=", 1)[1]


def test_summary_of_leaf(chain):
    s = summarize(chain.leaf.cert)
    cert = chain.leaf.cert
    assert s.subject == "CN=mx200-sn1" and s.common_name == "mx200-sn1"
    assert s.issuer == "CN=MediCorp Devices CA 1" and s.issuer_common_name == "MediCorp Devices CA 1"
    assert int(s.serial_hex, 16) == cert.serial_number
    assert s.not_before == cert.not_valid_before_utc and s.not_before.tzinfo is not None
    assert s.not_after == cert.not_valid_after_utc and s.not_after.utcoffset() == timedelta(0)
    assert (s.key, s.key_description) == ("ec-p256", "EC P-256")
    assert not s.is_ca and s.path_length is None and s.has_basic_constraints
    assert s.key_usage == ["digitalSignature"]
    assert s.extended_key_usage == ["clientAuth"]
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = chain.inter.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert s.subject_key_identifier.replace(":", "") == ski.hex().upper()
    assert s.authority_key_identifier.replace(":", "") == aki.hex().upper()
    assert not s.self_signed and not s.expired and not s.not_yet_valid
    assert 363 <= s.days_left <= 365
    assert s.signature_algorithm == "ecdsa-with-SHA256"


def test_summary_of_ca_and_root(chain):
    inter, root = summarize(chain.inter.cert), summarize(chain.root.cert)
    assert inter.is_ca and inter.path_length == 0 and not inter.self_signed
    assert inter.key_usage == ["digitalSignature", "keyCertSign", "cRLSign"]
    assert inter.extended_key_usage == []
    assert root.is_ca and root.path_length is None and root.self_signed


@pytest.mark.parametrize(("spec", "key", "text"), [("ec-p384", "ec-p384", "EC P-384"), ("rsa-2048", "rsa-2048", "RSA 2048")])
def test_key_description(spec, key, text):
    s = summarize(make_cert("k", key_spec=spec).cert)
    assert (s.key, s.key_description) == (key, text)


def test_rsa_leaf_key_usage_and_other_ekus():
    cert = make_cert(
        "rsa-leaf", key_spec="rsa-2048",
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH, x509.ObjectIdentifier("1.3.6.1.4.1.99.1")],
    ).cert
    s = summarize(cert)
    assert s.key_usage == ["digitalSignature", "keyEncipherment"]
    assert s.extended_key_usage == ["clientAuth", "serverAuth", "1.3.6.1.4.1.99.1"]


def test_missing_extensions_give_empty_values():
    s = summarize(make_cert("bare", ca=None, key_usage=None, eku=None, ski=False, aki=False).cert)
    assert not s.is_ca and not s.has_basic_constraints
    assert s.key_usage == [] and s.extended_key_usage == []
    assert s.subject_key_identifier is None and s.authority_key_identifier is None
    assert s.self_signed  # factory self-signs when no issuer is given


@pytest.mark.parametrize(("ca", "expected"), [(True, True), (False, False), (None, False)])
def test_is_ca_needs_basic_constraints_ca_true(ca, expected):
    # None leaves basicConstraints out: such a certificate is not a CA, whatever its keyUsage.
    cert = make_cert(f"ca-{ca}", ca=ca, key_usage="ca").cert
    assert is_ca(cert) is expected
    assert summarize(cert).is_ca is expected


def test_self_issued_but_signed_by_another_key_is_not_self_signed(chain):
    other = make_cert("MediCorp Root CA", ca=True)
    forged = make_cert("MediCorp Root CA", issuer=other, ca=True, issuer_name=other.cert.subject)
    assert forged.cert.subject == forged.cert.issuer
    assert not summarize(forged.cert).self_signed


def test_validity_flags_follow_at(chain):
    cert = chain.leaf.cert
    before = cert.not_valid_before_utc - timedelta(seconds=1)
    after = cert.not_valid_after_utc + timedelta(days=2)
    assert summarize(cert, at=before).not_yet_valid and not summarize(cert, at=before).expired
    late = summarize(cert, at=after)
    assert late.expired and not late.not_yet_valid and late.days_left == -2
    naive = summarize(cert, at=after.replace(tzinfo=None))
    assert naive.expired


def test_to_dict_is_json(chain):
    data = summarize(chain.inter.cert).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["sha1_thumbprint"] == sha1_thumbprint(chain.inter.cert)
    assert data["not_after"].endswith("Z")
    assert datetime.fromisoformat(data["not_after"].replace("Z", "+00:00")) == chain.inter.cert.not_valid_after_utc
    assert set(data) >= {f for f in CertSummary.__dataclass_fields__}


def test_display_name_without_cn():
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MediCorp")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(NOW).not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert display_name(cert) == "O=MediCorp"
    assert summarize(cert).common_name is None


# --- warnings_for_intermediate -----------------------------------------------------------------


def test_good_intermediate_has_no_warnings_and_pathlen_zero_is_fine(chain):
    assert summarize(chain.inter.cert).path_length == 0
    assert warnings_for_intermediate(chain.inter.cert) == []


def test_leaf_offered_as_intermediate(chain):
    warnings = warnings_for_intermediate(chain.leaf.cert)
    assert any("'mx200-sn1' is not a CA certificate" in w for w in warnings)
    assert any("keyCertSign" in w for w in warnings)


def test_no_basic_constraints():
    cert = make_cert("old-ca", ca=None, key_usage="ca").cert
    assert any("no basicConstraints" in w for w in warnings_for_intermediate(cert))


def test_expired_not_yet_valid_and_expiring(chain):
    inter = chain.inter.cert
    after = inter.not_valid_after_utc + timedelta(days=1)
    assert any("expired on" in w for w in warnings_for_intermediate(inter, after))
    before = inter.not_valid_before_utc - timedelta(days=1)
    assert any("not valid yet" in w for w in warnings_for_intermediate(inter, before))
    soon = inter.not_valid_after_utc - timedelta(days=30, hours=1)
    warnings = warnings_for_intermediate(inter, soon)
    assert any("expires in 30 days" in w for w in warnings)
    assert warnings_for_intermediate(inter, inter.not_valid_after_utc - timedelta(days=91)) == []


def test_missing_key_cert_sign_and_missing_key_usage():
    no_sign = make_cert("ca-no-sign", ca=True, key_usage={"digital_signature": True}).cert
    assert any("lacks keyCertSign" in w for w in warnings_for_intermediate(no_sign))
    no_ku = make_cert("ca-no-ku", ca=True, key_usage=None).cert
    assert any("no keyUsage" in w for w in warnings_for_intermediate(no_ku))


def test_eku_without_client_auth_and_self_signed():
    cert = make_cert("tls-ca", ca=True, eku=[ExtendedKeyUsageOID.SERVER_AUTH]).cert
    warnings = warnings_for_intermediate(cert)
    assert any("without clientAuth" in w for w in warnings)
    assert any("self-signed" in w for w in warnings)


def test_at_accepts_naive_and_other_timezones(chain):
    inter = chain.inter.cert
    after = (inter.not_valid_after_utc + timedelta(days=1)).astimezone(timezone(timedelta(hours=-5)))
    assert any("expired" in w for w in warnings_for_intermediate(inter, after))
