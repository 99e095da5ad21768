"""certbench.core.x509.keys: key types, generation, and the only two ways a key leaves memory."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from x509_factory import cached_key

from certbench.core.errors import InputError
from certbench.core.x509.keys import (
    EC_P256,
    EC_P384,
    RSA_2048,
    KeySpec,
    encrypt_private_key,
    generate_key,
    key_spec_of,
    load_encrypted_private_key,
    private_key_der_for_device,
    public_key_bytes,
    same_public_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ec-p256", EC_P256), ("EC-P384", EC_P384), ("ecdsa-p256", EC_P256), ("ec_p-256", EC_P256),
        (" ec256 ", EC_P256), ("rsa-2048", RSA_2048), ("RSA 3072", KeySpec("RSA", 3072)), ("rsa4096", KeySpec("RSA", 4096)),
    ],
)
def test_keyspec_parse(text, expected):
    assert KeySpec.parse(text) == expected


@pytest.mark.parametrize("text", ["", "ec-p521", "rsa-1024", "dsa-2048", "ed25519", "rsa-2048-extra"])
def test_keyspec_parse_rejects(text):
    with pytest.raises(InputError, match="Unsupported key type") as info:
        KeySpec.parse(text)
    assert "ec-p256" in info.value.hint


def test_keyspec_str_and_curve():
    assert [str(s) for s in (EC_P256, EC_P384, RSA_2048)] == ["ec-p256", "ec-p384", "rsa-2048"]
    assert (EC_P256.curve, EC_P384.curve, RSA_2048.curve) == ("P-256", "P-384", None)
    for spec in (EC_P256, EC_P384, RSA_2048):
        assert KeySpec.parse(str(spec)) == spec


@pytest.mark.parametrize("spec", ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"])
def test_generate_key_every_spec(spec):
    key = generate_key(spec)
    assert str(key_spec_of(key)) == spec
    assert str(key_spec_of(key.public_key())) == spec
    assert key_spec_of(key) == KeySpec.parse(spec)


def test_generate_key_types_and_default():
    assert isinstance(generate_key(), ec.EllipticCurvePrivateKey)
    assert isinstance(generate_key(RSA_2048), rsa.RSAPrivateKey)
    assert generate_key(EC_P384).curve.name == "secp384r1"


def test_key_spec_of_unsupported():
    with pytest.raises(InputError, match="curve"):
        key_spec_of(ec.generate_private_key(ec.SECP521R1()))
    with pytest.raises(InputError, match="Ed25519"):
        key_spec_of(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(InputError, match="RSA key size 1024"):
        key_spec_of(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def test_same_public_key():
    a, b = cached_key("ec-p256"), cached_key("ec-p256", 1)
    assert same_public_key(a, a.public_key())
    assert not same_public_key(a, b)
    assert public_key_bytes(a) == a.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("spec", ["ec-p256", "rsa-2048"])
def test_encrypt_and_load_round_trip(spec):
    key = cached_key(spec)
    pem = encrypt_private_key(key, b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # really encrypted: unreadable without the passphrase
        serialization.load_pem_private_key(pem, password=None)
    assert same_public_key(load_encrypted_private_key(pem, b"correct horse"), key)


def test_encrypt_requires_passphrase():
    with pytest.raises(InputError, match="only be written encrypted"):
        encrypt_private_key(cached_key("ec-p256"), b"")


def test_load_wrong_passphrase_and_damage():
    pem = encrypt_private_key(cached_key("ec-p256"), b"right")
    with pytest.raises(InputError, match="passphrase is wrong or the file is damaged") as info:
        load_encrypted_private_key(pem, b"wrong")
    assert "right" not in str(info.value)
    with pytest.raises(InputError, match="damaged"):
        load_encrypted_private_key(pem[:200], b"right")


def test_load_refuses_clear_key():
    clear = cached_key("ec-p256").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(InputError, match="not encrypted"):
        load_encrypted_private_key(clear, b"pw")


def test_load_refuses_unsupported_key_type():
    pem = encrypt_private_key(ec.generate_private_key(ec.SECP521R1()), b"pw")
    with pytest.raises(InputError, match="curve"):
        load_encrypted_private_key(pem, b"pw")


def test_private_key_der_for_device_is_pkcs8_of_same_key():
    key = cached_key("ec-p256")
    der = private_key_der_for_device(key)
    assert same_public_key(serialization.load_der_private_key(der, password=None), key)
