"""A realistic, throw-away credential set for demos, tests and the link benchmark: two root
CAs (RSA-4096 and EC P-384, like a public TLS root pair), an RSA-2048 device intermediate,
and leaf certificates issued by it for a given key or CSR."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certbench.core.x509.keys import PrivateKey, PublicKey, generate_key


def _name(cn: str, org: str = "MediCorp Test") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(subject: x509.Name, key: PrivateKey, issuer: x509.Name, issuer_key: PrivateKey, path_len: int | None) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass
class SamplePki:
    roots: list[x509.Certificate]
    intermediate: x509.Certificate
    intermediate_key: PrivateKey

    @classmethod
    def create(cls, *, small: bool = False) -> SamplePki:
        """`small`: one EC root and an EC intermediate, for tests that walk every step."""
        if small:
            root_key = generate_key("ec-p256")
            root = _ca(_name("MediCorp Test Root E2"), root_key, _name("MediCorp Test Root E2"), root_key, None)
            inter_key = generate_key("ec-p256")
            return cls([root], _ca(_name("MediCorp Test Devices CA 2"), inter_key, root.subject, root_key, 0), inter_key)
        root_key, root2_key = generate_key("rsa-4096"), generate_key("ec-p384")
        root = _ca(_name("MediCorp Test Root R1"), root_key, _name("MediCorp Test Root R1"), root_key, None)
        root2 = _ca(_name("MediCorp Test Root E1"), root2_key, _name("MediCorp Test Root E1"), root2_key, None)
        inter_key = generate_key("rsa-2048")
        inter = _ca(_name("MediCorp Test Devices CA 1"), inter_key, root.subject, root_key, 0)
        return cls([root, root2], inter, inter_key)

    def issue(self, subject_key: PublicKey | PrivateKey, common_name: str) -> x509.Certificate:
        public = subject_key.public_key() if hasattr(subject_key, "private_bytes") else subject_key
        now = dt.datetime.now(dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.intermediate.subject)
            .public_key(public)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.intermediate_key, hashes.SHA256())
        )

    def issue_for_csr(self, csr: x509.CertificateSigningRequest) -> x509.Certificate:
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return self.issue(csr.public_key(), str(cn))  # type: ignore[arg-type]

    def chain_for(self, leaf: x509.Certificate) -> list[x509.Certificate]:
        return [leaf, self.intermediate]

    @property
    def trust(self) -> list[x509.Certificate]:
        """What an instrument's trust store holds: the roots and the device intermediate."""
        return [*self.roots, self.intermediate]
