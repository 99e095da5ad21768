"""certbench.core.x509.csr: building, reading and signature-checking CSRs."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from x509_factory import cached_key, shared_chain

from certbench.core.errors import InputError
from certbench.core.x509.csr import (
    CsrError,
    build_csr,
    check_csr_signature,
    csr_common_name,
    csr_to_der,
    csr_to_pem,
    load_csr,
)
from certbench.core.x509.keys import same_public_key


@pytest.fixture(scope="module", params=["ec-p256", "ec-p384", "rsa-2048"])
def key(request):
    return cached_key(request.param)


def test_build_csr_subject_key_and_hash(key):
    csr = build_csr(key, "mx200-sn1")
    assert csr_common_name(csr) == "mx200-sn1"
    assert csr.subject.rfc4514_string() == "CN=mx200-sn1"
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
    assert same_public_key(csr.public_key(), key)
    assert csr.is_signature_valid
    check_csr_signature(csr)


def test_build_csr_extra_attributes():
    csr = build_csr(cached_key("ec-p256"), "mx200-sn1",
                    extra={"O": "MediCorp", "organizational unit name": "Bench 3", "C": "DE", "serialNumber": "SN1"})
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "MediCorp"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "Bench 3"
    assert csr.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    assert csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "SN1"
    assert csr_common_name(csr) == "mx200-sn1"


def test_build_csr_dotted_oid_attribute():
    csr = build_csr(cached_key("ec-p256"), "a", extra={"2.5.4.45": "unique"})
    assert csr.subject.get_attributes_for_oid(x509.ObjectIdentifier("2.5.4.45"))[0].value == "unique"


@pytest.mark.parametrize(
    ("cn", "extra", "match"),
    [
        ("x" * 65, None, "not allowed"),
        ("", None, "empty"),
        ("a", {"Colour": "blue"}, "Unknown subject attribute 'Colour'"),
        ("a", {"C": "Germany"}, "not allowed"),
        ("a", {"CN": "b"}, "given twice"),
        ("a", {"O": ""}, "empty"),
    ],
)
def test_build_csr_bad_subject(cn, extra, match):
    with pytest.raises(CsrError, match=match):
        build_csr(cached_key("ec-p256"), cn, extra=extra)


def test_build_csr_refuses_unsupported_key():
    with pytest.raises(InputError, match="curve"):
        build_csr(ec.generate_private_key(ec.SECP521R1()), "a")


# --- load_csr -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csr():
    return build_csr(cached_key("ec-p256"), "mx200-sn1")


def same(a, b):
    return csr_to_der(a) == csr_to_der(b)


def test_load_csr_pem_crlf_whitespace_and_text(csr):
    pem = csr_to_pem(csr)
    assert same(load_csr(pem), csr)
    messy = "request from bench 3\r\n" + "\r\n".join("  " + line + " \t" for line in pem.splitlines()) + "\r\n\r\n"
    assert same(load_csr(messy.encode()), csr)


def test_load_csr_utf16_from_powershell(csr):
    assert same(load_csr(csr_to_pem(csr).replace("\n", "\r\n").encode("utf-16")), csr)


def test_load_csr_new_certificate_request_label(csr):
    pem = csr_to_pem(csr).replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
    assert same(load_csr(pem), csr)


def test_load_csr_der_and_base64(csr):
    der = csr_to_der(csr)
    assert same(load_csr(der), csr)
    assert same(load_csr(der + b"\n"), csr)
    assert same(load_csr(base64.b64encode(der).decode() + "\n"), csr)


def test_csr_to_pem_round_trip(csr):
    pem = csr_to_pem(csr)
    assert pem.startswith("-----BEGIN CERTIFICATE REQUEST-----\n") and "\r" not in pem
    assert same(x509.load_pem_x509_csr(pem.encode()), csr)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda pem, der: b"", "empty"),
        (lambda pem, der: pem[: len(pem) - 40], "truncated"),
        (lambda pem, der: pem[:70] + b"#" + pem[71:], "damaged"),
        (lambda pem, der: der[: len(der) - 10], "truncated"),
        (lambda pem, der: b"definitely not a request", "holds no certificate signing request"),
        (lambda pem, der: b"\x30\x03\x02\x01\x00", "not a valid certificate signing request"),
    ],
)
def test_load_csr_bad_input(csr, mutate, match):
    pem, der = csr_to_pem(csr).encode(), csr_to_der(csr)
    with pytest.raises(CsrError, match=match) as info:
        load_csr(mutate(pem, der), source="unit.csr")
    assert "unit.csr" in info.value.message and info.value.hint


def test_load_csr_refuses_certificate_and_key():
    chain = shared_chain()
    cert_pem = chain.leaf.cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CsrError, match="is a certificate, not a certificate signing request"):
        load_csr(cert_pem)
    with pytest.raises(CsrError, match="is a certificate"):
        load_csr(chain.leaf.cert.public_bytes(serialization.Encoding.DER))
    key_pem = chain.leaf.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    with pytest.raises(CsrError, match="private key") as info:
        load_csr(key_pem)
    assert key_pem.splitlines()[1].decode() not in str(info.value)
    key_der = chain.leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    with pytest.raises(CsrError, match="private key"):
        load_csr(key_der)


# --- signature check ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["ec-p256", "rsa-2048"])
def test_tampered_signature_is_refused(spec):
    der = bytearray(csr_to_der(build_csr(cached_key(spec), "mx200-sn1")))
    der[-1] ^= 0x01  # last byte of the signature BIT STRING
    tampered = load_csr(bytes(der))  # still well-formed ...
    with pytest.raises(CsrError, match="does not verify") as info:  # ... but not genuine
        check_csr_signature(tampered)
    assert "mx200-sn1" in info.value.message and isinstance(info.value, InputError)


def test_tampered_subject_is_refused():
    der = csr_to_der(build_csr(cached_key("ec-p256"), "mx200-sn1"))
    tampered = load_csr(der.replace(b"mx200-sn1", b"mx200-sn2"))
    assert csr_common_name(tampered) == "mx200-sn2"
    with pytest.raises(CsrError, match="'mx200-sn2' does not verify"):
        check_csr_signature(tampered)


def test_csr_common_name_absent():
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MediCorp")])
    )
    csr = builder.sign(cached_key("ec-p256"), hashes.SHA256())
    assert csr_common_name(csr) is None
    check_csr_signature(csr)
