import multiprocessing
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from certbench.core import secrets
from certbench.core.errors import InputError, SecretStoreError
from certbench.core.pki.base import IssuedCertificate
from certbench.core.pki.local import DEFAULT_INTERMEDIATES, LocalCA
from certbench.core.x509.chain import validate_client_chain, verify_signed_by
from certbench.core.x509.csr import CsrError, build_csr
from certbench.core.x509.identity import make_identity
from certbench.core.x509.inspect import summarize
from certbench.core.x509.keys import generate_key, same_public_key
from certbench.core.x509.parse import load_certificate, to_pem

KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072"]


@pytest.fixture
def ca(tmp_path):
    return LocalCA(tmp_path / "ca").ensure()


def test_created_on_first_use_with_encrypted_keys(ca, memory_keyring):
    files = sorted(p.name for p in ca.directory.iterdir())
    assert "root.pem" in files and "root.key.pem" in files
    for name in DEFAULT_INTERMEDIATES:
        assert f"{name}.pem" in files and f"{name}.key.pem" in files
    for key_file in ca.directory.glob("*.key.pem"):
        text = key_file.read_text()
        assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert "BEGIN PRIVATE KEY" not in text and "BEGIN EC PRIVATE KEY" not in text
    # The passphrase lives in the keyring, not next to the keys.
    passphrase = memory_keyring.store[(secrets.SERVICE, secrets.LOCAL_CA_PASSPHRASE)]
    for path in ca.directory.rglob("*"):
        if path.is_file():
            assert passphrase.encode() not in path.read_bytes()


def test_intermediates_are_cas_under_the_root(ca):
    root = ca.root_certificate
    for name in ca.intermediate_names():
        info = ca.intermediate(name)
        summary = summarize(info.certificate)
        assert summary.is_ca and summary.path_length == 0
        assert "keyCertSign" in summary.key_usage
        assert verify_signed_by(info.certificate, root)
        assert info.chain_above == (root,)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_leaf_profile(ca, key_type):
    identity = make_identity("mx200-sn0001", key_type)
    issued = ca.issue("medicorp-ica-2", identity.csr)
    leaf = issued.certificate
    assert isinstance(issued, IssuedCertificate) and issued.order_id.startswith("local-")
    assert leaf.subject.rfc4514_string() == "CN=mx200-sn0001"
    assert same_public_key(leaf.public_key(), identity.key)
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature
    assert ku.key_encipherment == key_type.startswith("rsa")
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    issuer_ski = ca.intermediate("medicorp-ica-2").certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    assert ski.digest and aki.key_identifier == issuer_ski.digest
    # Full chain to the root, and the intermediate alone as anchor (partial chain).
    assert validate_client_chain(leaf, [issued.chain[1]], [ca.root_certificate])
    assert validate_client_chain(leaf, [], [issued.chain[1]])


def test_validity_is_configurable(tmp_path):
    ca = LocalCA(tmp_path / "ca", leaf_validity_days=30).ensure()
    leaf = ca.issue("medicorp-ica-1", make_identity("lx5-1").csr).certificate
    assert timedelta(days=29) < leaf.not_valid_after_utc - datetime.now(timezone.utc) <= timedelta(days=30)


def test_collect_and_revoke(ca):
    order_id = ca.order("medicorp-ica-1", make_identity("vx10-77").csr)
    first = ca.collect("medicorp-ica-1", order_id)
    again = LocalCA(ca.directory).collect("medicorp-ica-1", order_id)  # another process, same order
    assert first.certificate == again.certificate
    with pytest.raises(InputError, match="placed with intermediate 'medicorp-ica-1'"):
        ca.collect("medicorp-ica-3", order_id)
    ca.revoke(order_id, "decommissioned")
    assert ca.is_revoked(order_id)
    with pytest.raises(InputError, match="revoked"):
        ca.collect("medicorp-ica-1", order_id)
    with pytest.raises(InputError, match="not an order id"):
        ca.collect("medicorp-ica-1", "../../etc/passwd")


def test_bad_requests_are_refused_and_issue_nothing(ca):
    with pytest.raises(InputError, match="no intermediate named 'ica-9'"):
        ca.order("ica-9", make_identity("mx200-1").csr)
    csr = make_identity("mx200-1").csr
    der = bytearray(csr.public_bytes(Encoding.DER))
    der[-5] ^= 0xFF  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(CsrError):
        ca.order("medicorp-ica-1", tampered)
    no_cn = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(
        generate_key("ec-p256"), hashes.SHA256()
    )
    with pytest.raises(InputError, match="no common name"):
        ca.order("medicorp-ica-1", no_cn)
    assert not (ca.directory / "orders").exists() or not list((ca.directory / "orders").iterdir())


def test_verification_certificate_has_the_code_as_cn(ca):
    issued = ca.issue_verification_certificate("medicorp-ica-4", "4B1D0A8C2E6F")
    assert summarize(issued.certificate).common_name == "4B1D0A8C2E6F"
    assert verify_signed_by(issued.certificate, ca.intermediate("medicorp-ica-4").certificate)


def test_reopened_ca_uses_the_same_root_and_a_lost_passphrase_is_a_clear_error(ca, memory_keyring):
    again = LocalCA(ca.directory).ensure()
    assert again.root_certificate == ca.root_certificate
    memory_keyring.store.clear()
    fresh = LocalCA(ca.directory)
    with pytest.raises(SecretStoreError, match="passphrase is not in this user's OS keyring") as caught:
        fresh.issue("medicorp-ica-1", make_identity("mx200-2").csr)
    assert "ca local init" in caught.value.hint
    # Looking changed nothing: no new passphrase was made up and stored.
    assert memory_keyring.store == {}

    # A passphrase that does not open the keys (another CA's) is told apart from a lost one.
    memory_keyring.set_password(secrets.SERVICE, secrets.LOCAL_CA_PASSPHRASE, "not-the-right-one")
    with pytest.raises(InputError, match="does not open with the passphrase"):
        LocalCA(ca.directory).issue("medicorp-ica-1", make_identity("mx200-2").csr)


def test_new_intermediate_names_are_added_under_the_existing_root(ca):
    bigger = LocalCA(ca.directory, [*DEFAULT_INTERMEDIATES, "site-cork"]).ensure()
    assert verify_signed_by(bigger.intermediate("site-cork").certificate, ca.root_certificate)


def _ensure_in_process(args):
    directory, passphrase = args
    from certbench.core import secrets as s

    s.use_memory_keyring()
    s.set_secret(s.LOCAL_CA_PASSPHRASE, passphrase)
    ca = LocalCA(directory).ensure()
    return to_pem([ca.root_certificate])


def test_concurrent_first_use_makes_one_root(tmp_path):
    passphrase = secrets.get_or_create_secret(secrets.LOCAL_CA_PASSPHRASE)
    directory = tmp_path / "ca"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        roots = pool.map(_ensure_in_process, [(directory, passphrase)] * 4)
    assert len(set(roots)) == 1
    assert load_certificate(roots[0]) == LocalCA(directory).root_certificate


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed: independent cross-check skipped")
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_openssl_agrees_chains_are_valid_for_client_auth(ca, tmp_path, key_type):
    issued = ca.issue("medicorp-ica-3", make_identity(f"vx10-{key_type}", key_type).csr)
    leaf, root, intermediate = tmp_path / "leaf.pem", tmp_path / "root.pem", tmp_path / "ica.pem"
    leaf.write_text(to_pem([issued.certificate]))
    root.write_text(to_pem([ca.root_certificate]))
    intermediate.write_text(to_pem([issued.chain[1]]))

    def openssl(*args):
        return subprocess.run(["openssl", "verify", "-purpose", "sslclient", *args], capture_output=True, text=True)

    full = openssl("-CAfile", str(root), "-untrusted", str(intermediate), str(leaf))
    assert full.returncode == 0, full.stdout + full.stderr
    partial = openssl("-partial_chain", "-CAfile", str(intermediate), str(leaf))
    assert partial.returncode == 0, partial.stdout + partial.stderr
    # And both refuse a leaf from another intermediate.
    other = tmp_path / "other.pem"
    other.write_text(to_pem([ca.intermediate("medicorp-ica-1").certificate]))
    assert openssl("-partial_chain", "-CAfile", str(other), str(leaf)).returncode != 0
    with pytest.raises(InputError):
        validate_client_chain(issued.certificate, [], [ca.intermediate("medicorp-ica-1").certificate])


def test_csr_for_another_key_type_is_signed_as_is(ca):
    key = generate_key("rsa-4096")
    issued = ca.issue("medicorp-ica-1", build_csr(key, "mx300-big"))
    assert summarize(issued.certificate).key_description == "RSA 4096"
