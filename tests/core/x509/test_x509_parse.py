"""certbench.core.x509.parse: every input form, and every way a certificate file can be bad."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from x509_factory import empty_pkcs7_der, make_cert, shared_chain

from certbench.core.errors import InputError
from certbench.core.x509.csr import build_csr, csr_to_pem
from certbench.core.x509.parse import (
    CertificateParseError,
    load_certificate,
    load_certificate_file,
    load_certificates,
    to_base64_pem,
    to_der,
    to_pem,
    to_pkcs7_der,
)

OPENSSL = shutil.which("openssl")


def ders(certs):
    return [to_der(c) for c in certs]


@pytest.fixture(scope="module")
def chain():
    return shared_chain()


# --- accepted forms -----------------------------------------------------------------------


def test_single_pem_bytes_and_str(chain):
    pem = to_pem([chain.leaf.cert])
    assert ders(load_certificates(pem)) == [to_der(chain.leaf.cert)]
    assert ders(load_certificates(pem.encode())) == [to_der(chain.leaf.cert)]


def test_many_pem_keep_input_order(chain):
    order = [chain.root.cert, chain.leaf.cert, chain.inter.cert]
    assert ders(load_certificates(to_pem(order))) == ders(order)


def test_pem_with_crlf_blank_lines_indentation_and_text_around(chain):
    pem = to_pem(chain.certs)
    lines = pem.splitlines()
    messy = "Bag attributes\r\n  friendlyName: mx200\r\n\r\n" + "\r\n".join(
        "   " + line + "  " if i % 3 else line for i, line in enumerate(lines)
    )
    messy = messy.replace("-----END CERTIFICATE-----", "-----END CERTIFICATE-----\r\n\r\n\t")
    messy += "\r\ntrailing comment from an email\r\n"
    assert ders(load_certificates(messy)) == ders(chain.certs)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom"])
def test_pem_saved_by_windows_tools_with_bom(chain, encoding):
    text = to_pem(chain.certs).replace("\n", "\r\n")
    data = b"\xff\xfe" + text.encode("utf-16-le") if encoding == "utf-16-le-bom" else text.encode(encoding)
    assert ders(load_certificates(data, source="chain.pem")) == ders(chain.certs)
    assert ders(load_certificates(base64.b64encode(text.encode()).decode().encode("utf-16"))) == ders(chain.certs)


def test_pem_escaped_newlines_from_json(chain):
    pem = to_pem([chain.leaf.cert]).replace("\n", "\\n")
    assert ders(load_certificates(pem)) == [to_der(chain.leaf.cert)]


def test_pem_body_on_one_line(chain):
    pem = to_pem([chain.leaf.cert])
    one_line = pem.replace("\n", "", pem.count("\n") - 1)
    assert ders(load_certificates(one_line)) == [to_der(chain.leaf.cert)]


def test_other_pem_blocks_are_skipped(chain):
    public = chain.leaf.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert ders(load_certificates(public + to_pem([chain.leaf.cert]))) == [to_der(chain.leaf.cert)]


def test_der(chain):
    assert ders(load_certificates(to_der(chain.inter.cert))) == [to_der(chain.inter.cert)]


def test_der_with_trailing_newline(chain):
    assert ders(load_certificates(to_der(chain.inter.cert) + b"\r\n")) == [to_der(chain.inter.cert)]


def test_concatenated_der(chain):
    blob = b"".join(ders(chain.certs))
    assert ders(load_certificates(blob)) == ders(chain.certs)


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_pkcs7(chain, encoding):
    data = pkcs7.serialize_certificates(chain.certs, encoding)
    assert sorted(ders(load_certificates(data))) == sorted(ders(chain.certs))


def test_pkcs7_pem_with_crlf(chain):
    data = pkcs7.serialize_certificates(chain.certs, serialization.Encoding.PEM).replace(b"\n", b"\r\n")
    assert sorted(ders(load_certificates(data))) == sorted(ders(chain.certs))


def test_bare_base64_of_pkcs7(chain):
    """Sectigo's `collect` with no format returns PKCS#7 as base64."""
    data = base64.b64encode(to_pkcs7_der(chain.certs))
    assert sorted(ders(load_certificates(data))) == sorted(ders(chain.certs))


@pytest.mark.skipif(not OPENSSL, reason="openssl is not installed: no openssl-made PKCS#7 to read")
@pytest.mark.parametrize("outform", ["PEM", "DER"])
def test_pkcs7_made_by_openssl_crl2pkcs7(chain, tmp_path, outform):
    (tmp_path / "chain.pem").write_text(to_pem(chain.certs))
    out = subprocess.run(
        [OPENSSL, "crl2pkcs7", "-nocrl", "-certfile", str(tmp_path / "chain.pem"), "-outform", outform],
        capture_output=True, check=True, timeout=30,
    ).stdout
    assert sorted(ders(load_certificates(out, source="chain.p7b"))) == sorted(ders(chain.certs))


def test_base64_of_pem_as_iot_central_sends_it(chain):
    data = to_base64_pem(chain.inter.cert)
    assert base64.b64decode(data).decode().startswith("-----BEGIN CERTIFICATE-----\n")
    assert ders(load_certificates(data)) == [to_der(chain.inter.cert)]


def test_base64_of_crlf_pem_chain_wrapped(chain):
    pem = to_pem(chain.certs).replace("\n", "\r\n").encode()
    b64 = base64.encodebytes(pem).decode()  # wrapped at 76 columns
    assert ders(load_certificates(b64)) == ders(chain.certs)


def test_bare_base64_of_der_without_padding(chain):
    b64 = base64.b64encode(to_der(chain.leaf.cert)).rstrip(b"=")
    assert ders(load_certificates(b"  " + b64 + b"\n")) == [to_der(chain.leaf.cert)]


# --- output -------------------------------------------------------------------------------


def test_to_pem_uses_lf_and_round_trips(chain):
    text = to_pem(chain.certs)
    assert "\r" not in text
    assert text.count("-----BEGIN CERTIFICATE-----") == 3
    assert ders(load_certificates(text)) == ders(chain.certs)


def test_to_der_is_der(chain):
    der = to_der(chain.leaf.cert)
    assert der[0] == 0x30 and der == chain.leaf.cert.public_bytes(serialization.Encoding.DER)


def test_to_base64_pem_is_base64_of_pem_text(chain):
    assert base64.b64decode(to_base64_pem(chain.leaf.cert)).decode() == to_pem([chain.leaf.cert])


# --- load_certificate / load_certificate_file ------------------------------------------------


def test_load_certificate_exactly_one(chain):
    assert to_der(load_certificate(to_pem([chain.leaf.cert]))) == to_der(chain.leaf.cert)
    with pytest.raises(CertificateParseError, match="3 certificates where exactly one"):
        load_certificate(to_pem(chain.certs), source="chain.pem")


def test_load_certificate_file(chain, tmp_path):
    path = tmp_path / "leaf.cer"
    path.write_bytes(to_der(chain.leaf.cert))
    assert ders(load_certificate_file(path)) == [to_der(chain.leaf.cert)]
    assert ders(load_certificate_file(str(path))) == [to_der(chain.leaf.cert)]


def test_load_certificate_file_errors_name_the_file(tmp_path):
    with pytest.raises(CertificateParseError, match="does not exist") as info:
        load_certificate_file(tmp_path / "nope.pem")
    assert "nope.pem" in info.value.message
    with pytest.raises(CertificateParseError, match="folder"):
        load_certificate_file(tmp_path)
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, this is not a certificate")
    with pytest.raises(CertificateParseError) as info:
        load_certificate_file(bad)
    assert "notes.txt" in info.value.message and "no certificate" in info.value.message


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", "   \r\n\t ", b"\n\n"])
def test_empty(data):
    with pytest.raises(CertificateParseError, match="is empty"):
        load_certificates(data, source="upload.pem")


@pytest.mark.parametrize("data", [b"hello world", "Grüße", b"\xff\xfe\x00garbage", b"QUJD", b"MIIB"])
def test_no_certificate(data):
    with pytest.raises(CertificateParseError) as info:
        load_certificates(data, source="upload.pem")
    assert info.value.message.startswith("upload.pem")
    assert isinstance(info.value, InputError) and info.value.hint


def test_truncated_pem_names_the_block(chain):
    pem = to_pem(chain.certs)
    cut = pem[: pem.rindex("-----END CERTIFICATE-----") - 30]  # the download stopped early
    with pytest.raises(CertificateParseError) as info:
        load_certificates(cut, source="chain.pem")
    message = info.value.message
    assert "chain.pem" in message and "block 3 (CERTIFICATE" in message and "truncated" in message


def test_pem_with_lines_missing_is_truncated(chain):
    lines = to_pem([chain.inter.cert]).splitlines()
    damaged = "\n".join(lines[:3] + lines[-1:])  # middle lines lost, END kept
    with pytest.raises(CertificateParseError, match="block 1 .*truncated"):
        load_certificates(damaged, source="ca.pem")


def test_corrupt_pem_character_names_the_block(chain):
    pems = [to_pem([c]) for c in chain.certs]
    pems[1] = pems[1][:100] + "!" + pems[1][101:]
    with pytest.raises(CertificateParseError, match=r"block 2 \(CERTIFICATE, line \d+\) is damaged"):
        load_certificates("".join(pems), source="chain.pem")


def test_corrupt_pem_valid_base64_but_not_a_certificate():
    body = base64.encodebytes(b"\x30\x03\x02\x01\x05").decode()
    with pytest.raises(CertificateParseError, match="block 1 .*not a valid certificate"):
        load_certificates(f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n")


def test_truncated_der(chain):
    der = to_der(chain.leaf.cert)
    with pytest.raises(CertificateParseError, match=rf"truncated.*{len(der)} bytes long but only 200"):
        load_certificates(der[:200], source="leaf.der")


def test_corrupt_der(chain):
    der = bytearray(to_der(chain.leaf.cert))
    der[5] ^= 0xFF  # inside the TBSCertificate header
    with pytest.raises(CertificateParseError, match="leaf.der"):
        load_certificates(bytes(der), source="leaf.der")


def test_der_with_trailing_junk(chain):
    with pytest.raises(CertificateParseError, match="unreadable data after certificate 1"):
        load_certificates(to_der(chain.leaf.cert) + b"\x99junk", source="leaf.der")


@pytest.mark.parametrize("form", ["der", "pem", "base64"])
def test_pkcs7_without_certificates(form):
    der = empty_pkcs7_der()
    data = {
        "der": der,
        "pem": b"-----BEGIN PKCS7-----\r\n" + base64.encodebytes(der) + b"-----END PKCS7-----\r\n",
        "base64": base64.b64encode(der),
    }[form]
    with pytest.raises(CertificateParseError, match="PKCS#7 bundle with no certificates") as info:
        load_certificates(data, source="order-42.p7b")
    assert "order-42.p7b" in info.value.message


@pytest.mark.skipif(not OPENSSL, reason="openssl is not installed: cannot make an empty PKCS#7 with it")
def test_pkcs7_without_certificates_made_by_openssl():
    empty = subprocess.run([OPENSSL, "crl2pkcs7", "-nocrl"], capture_output=True, check=True, timeout=30).stdout
    with pytest.raises(CertificateParseError, match="no certificates"):
        load_certificates(empty, source="empty.p7b")


def test_truncated_pkcs7(chain):
    der = to_pkcs7_der(chain.certs)
    with pytest.raises(CertificateParseError, match="truncated: the PKCS#7 bundle"):
        load_certificates(der[: len(der) // 2])


def test_damaged_pkcs7(chain):
    der = bytearray(to_pkcs7_der(chain.certs))
    der[20] ^= 0x55
    with pytest.raises(CertificateParseError):
        load_certificates(bytes(der))


def _key_pems(key):
    clear = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    traditional = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pw"))
    return [clear, traditional, encrypted]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_private_key_pem_is_refused_without_echo(chain, which):
    key_pem = _key_pems(chain.leaf.key)[which]
    secret_line = key_pem.splitlines()[2].decode()
    for data in (key_pem, to_pem([chain.leaf.cert]).encode() + key_pem):
        with pytest.raises(CertificateParseError, match="private key") as info:
            load_certificates(data, source="device.pem")
        assert secret_line not in str(info.value)
        assert "device.pem" in info.value.message


def test_private_key_der_is_refused(chain):
    der = chain.leaf.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    with pytest.raises(CertificateParseError, match="private key where a certificate was expected"):
        load_certificates(der, source="device.key")


def test_csr_is_not_a_certificate(chain):
    csr = build_csr(chain.leaf.key, "mx200-sn1")
    with pytest.raises(CertificateParseError, match="certificate signing request"):
        load_certificates(csr_to_pem(csr))
    with pytest.raises(CertificateParseError, match="certificate signing request"):
        load_certificates(csr.public_bytes(serialization.Encoding.DER))


def test_certificate_with_unparseable_extension_is_reported():
    """A duplicate extension parses as DER but is invalid X.509: caught at load time."""
    good = make_cert("dup-ext")
    der = to_der(good.cert)
    # cryptography will not build duplicates; splice the SKI extension in twice by hand is
    # fragile, so use an unknown critical-flag corruption instead: flip the BOOLEAN value
    # byte of basicConstraints' critical flag to a non-DER value (0x01 instead of 0xFF).
    marker = bytes.fromhex("0603551d13")  # OID 2.5.29.19 basicConstraints
    at = der.find(marker)
    assert at > 0
    damaged = bytearray(der)
    critical_value = at + len(marker) + 2  # 01 01 FF
    assert damaged[critical_value] == 0xFF
    damaged[critical_value] = 0x01
    with pytest.raises(CertificateParseError, match="not a valid certificate"):
        load_certificates(bytes(damaged), source="odd.der")
