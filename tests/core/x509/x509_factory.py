"""Test-only certificate factory on cryptography's builders: roots, intermediates and leaves
with exactly the flaws a test wants (expired, not a CA, wrong EKU, PSS signature...).

Independent of core/pki/local.py on purpose: the engine is tested against certificates it did
not make itself."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.now(timezone.utc).replace(microsecond=0)
AUTO = object()


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def name(self) -> str:
        return self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


@functools.lru_cache(maxsize=None)
def cached_key(spec: str, slot: int = 0):
    """Keys are the slow part; tests that only need 'some key' share these."""
    return new_key(spec)


def new_key(spec: str = "ec-p256"):
    if spec == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if spec == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if spec.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(spec[4:]))
    raise ValueError(spec)


def make_cert(
    cn: str,
    *,
    issuer: Issued | None = None,
    ca: bool | None = False,
    path_length: int | None = None,
    key=None,
    key_spec: str = "ec-p256",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key_usage=AUTO,
    eku=AUTO,
    ski: bool = True,
    aki: bool = True,
    issuer_name: x509.Name | None = None,
    pss: bool = False,
    hash_algorithm=None,
    extra_subject: list[x509.NameAttribute] | None = None,
) -> Issued:
    """`ca=None` leaves out basicConstraints; `key_usage`/`eku` None leave the extension out."""
    key = key or new_key(key_spec)
    subject = x509.Name([*(extra_subject or []), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_key = issuer.key if issuer else key
    signer_name = issuer_name or (issuer.cert.subject if issuer else subject)
    not_before = not_before or NOW - timedelta(days=1)
    not_after = not_after or NOW + timedelta(days=365)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
    if key_usage is AUTO:
        key_usage = "ca" if ca else "leaf"
    if key_usage is not None:
        builder = builder.add_extension(_key_usage(key_usage, key), critical=True)
    if eku is AUTO:
        eku = None if ca else [ExtendedKeyUsageOID.CLIENT_AUTH]
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
        )
    hash_algorithm = hash_algorithm or hashes.SHA256()
    if pss:
        cert = builder.sign(
            signer_key,
            hash_algorithm,
            rsa_padding=padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.DIGEST_LENGTH),
        )
    else:
        cert = builder.sign(signer_key, hash_algorithm)
    return Issued(cert, key)


def _key_usage(kind, key) -> x509.KeyUsage:
    flags = dict(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )
    if kind == "ca":
        flags.update(digital_signature=True, key_cert_sign=True, crl_sign=True)
    elif kind == "leaf":
        flags.update(digital_signature=True, key_encipherment=isinstance(key, rsa.RSAPrivateKey))
    else:
        flags.update(kind)
    return x509.KeyUsage(**flags)


@dataclass
class Chain:
    root: Issued
    inter: Issued
    leaf: Issued

    @property
    def certs(self) -> list[x509.Certificate]:
        return [self.leaf.cert, self.inter.cert, self.root.cert]


def make_chain(
    *,
    leaf_cn: str = "mx200-sn1",
    inter_cn: str = "MediCorp Devices CA 1",
    root_cn: str = "MediCorp Root CA",
    key_spec: str = "ec-p256",
    pss: bool = False,
    inter_kwargs: dict | None = None,
    leaf_kwargs: dict | None = None,
) -> Chain:
    root = make_cert(root_cn, ca=True, key_spec=key_spec, pss=pss,
                     not_after=NOW + timedelta(days=3650))
    inter = make_cert(inter_cn, issuer=root, ca=True, path_length=0, key_spec=key_spec, pss=pss,
                      not_after=NOW + timedelta(days=1825), **(inter_kwargs or {}))
    leaf = make_cert(leaf_cn, issuer=inter, key_spec=key_spec, pss=pss, **(leaf_kwargs or {}))
    return Chain(root, inter, leaf)


@functools.lru_cache(maxsize=None)
def shared_chain(key_spec: str = "ec-p256", pss: bool = False) -> Chain:
    """One good chain per key type for the whole session (read-only use)."""
    return make_chain(key_spec=key_spec, pss=pss)


def empty_pkcs7_der() -> bytes:
    """A degenerate PKCS#7 SignedData with no certificates (what `openssl crl2pkcs7 -nocrl`
    writes without -certfile); cryptography refuses to serialise an empty list."""
    signed_data = bytes.fromhex(
        "3014"  # SignedData
        "020101"  # version 1
        "3100"  # digestAlgorithms: empty SET
        "300b06092a864886f70d010701"  # contentInfo: data
        "3100"  # signerInfos: empty SET
    )
    explicit = b"\xa0" + bytes([len(signed_data)]) + signed_data
    body = bytes.fromhex("06092a864886f70d010702") + explicit
    return b"\x30" + bytes([len(body)]) + body
