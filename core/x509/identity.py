"""A unit's identity in one step: a fresh key pair and the CSR for its common name."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from certbench.core.naming import validate_cn as validate_name
from certbench.core.x509.csr import build_csr
from certbench.core.x509.keys import KeySpec, PrivateKey, generate_key, key_spec_of


@dataclass
class Identity:
    common_name: str
    # repr=False: an Identity may end up in a log line or a traceback; the key must not.
    key: PrivateKey = field(repr=False)
    csr: x509.CertificateSigningRequest = field(repr=False)

    @property
    def spec(self) -> KeySpec:
        return key_spec_of(self.key)


def make_identity(cn: str, spec: KeySpec | str = "ec-p256", *, validate_cn: bool = True) -> Identity:
    """Key of `spec` + a SHA-256 CSR with subject CN=`cn`.

    With `validate_cn`, the CN must satisfy the device naming policy (certbench.core.naming)
    before a key is made, so a bad name costs nothing."""
    key_spec = KeySpec.parse(spec) if isinstance(spec, str) else spec
    if validate_cn:
        validate_name(cn)
    key = generate_key(key_spec)
    return Identity(common_name=cn, key=key, csr=build_csr(key, cn))
