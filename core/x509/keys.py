"""Key pairs: the algorithms Certbench supports, generation, and the only two ways a private
key may leave memory: encrypted PKCS#8 with a passphrase, or handed to an instrument."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certbench.core.errors import InputError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
_CURVE_BY_NAME = {"secp256r1": "P-256", "secp384r1": "P-384"}
RSA_SIZES = (2048, 3072, 4096)


@dataclass(frozen=True)
class KeySpec:
    """An algorithm and size, written `ec-p256`, `ec-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096`."""

    algorithm: str  # "EC" or "RSA"
    size: int  # bits: 256/384 for EC, 2048/3072/4096 for RSA

    @property
    def curve(self) -> str | None:
        return {256: "P-256", 384: "P-384"}[self.size] if self.algorithm == "EC" else None

    def __str__(self) -> str:
        return f"{self.algorithm.lower()}-p{self.size}" if self.algorithm == "EC" else f"rsa-{self.size}"

    @classmethod
    def parse(cls, text: str) -> KeySpec:
        m = re.fullmatch(r"\s*(ec|ecdsa|rsa)[-_ ]?(p-?)?(\d+)\s*", text.lower())
        if m:
            algo, size = ("EC" if m.group(1) != "rsa" else "RSA"), int(m.group(3))
            if (algo == "EC" and size in (256, 384)) or (algo == "RSA" and size in RSA_SIZES):
                return cls(algo, size)
        raise InputError(
            f"Unsupported key type '{text}'.",
            "Use one of: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096.",
        )


EC_P256 = KeySpec("EC", 256)
EC_P384 = KeySpec("EC", 384)
RSA_2048 = KeySpec("RSA", 2048)


def generate_key(spec: KeySpec | str = EC_P256) -> PrivateKey:
    spec = KeySpec.parse(spec) if isinstance(spec, str) else spec
    if spec.algorithm == "EC":
        return ec.generate_private_key(_CURVES[spec.curve]())
    return rsa.generate_private_key(public_exponent=65537, key_size=spec.size)


def key_spec_of(key: PrivateKey | PublicKey) -> KeySpec:
    """The KeySpec of a key (private or public); unsupported keys are an InputError."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        curve = _CURVE_BY_NAME.get(key.curve.name)
        if curve:
            return KeySpec("EC", int(curve[2:]))
        raise InputError(f"Unsupported elliptic curve {key.curve.name}.", "Use P-256 or P-384.")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size not in RSA_SIZES:
            raise InputError(
                f"Unsupported RSA key size {key.key_size} bits.",
                "Use RSA 2048, 3072 or 4096, or an EC key (P-256/P-384).",
            )
        return KeySpec("RSA", key.key_size)
    raise InputError(f"Unsupported key type {type(key).__name__}.", "Use an EC (P-256/P-384) or RSA key.")


def public_key_bytes(key: PrivateKey | PublicKey) -> bytes:
    """SubjectPublicKeyInfo DER: the form in which two public keys are compared."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def same_public_key(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    return public_key_bytes(a) == public_key_bytes(b)


def encrypt_private_key(key: PrivateKey, passphrase: bytes) -> bytes:
    """PEM, encrypted PKCS#8. There is deliberately no function that writes a key in clear."""
    if not passphrase:
        raise InputError("A private key can only be written encrypted, and no passphrase was given.")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def load_encrypted_private_key(data: bytes, passphrase: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        raise InputError(
            "The private key file is not encrypted.",
            "Certbench only reads encrypted keys (PKCS#8 with a passphrase).",
        ) from None
    except ValueError:
        raise InputError(
            "The private key could not be decrypted: the passphrase is wrong or the file is damaged.",
            "Check the passphrase; if the file was copied, copy it again.",
        ) from None
    key_spec_of(key)
    return key  # type: ignore[return-value]


def private_key_der_for_device(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER, for handing to an instrument's secure key store over the wire
    and nothing else: never write the result to disk or a log."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
