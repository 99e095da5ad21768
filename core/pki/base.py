"""The `Issuer` interface: every certificate source (the embedded local CA, Sectigo) issues
through it, so workflows never know which one they talk to.

Issuance is two steps on purpose: `order()` returns an order id that the caller records
(registry) *before* `collect()` is called, so a crash or a timeout resumes by collecting the
same order, never by ordering a second certificate for one unit.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509


@dataclass(frozen=True)
class IntermediateInfo:
    """What a workflow needs to know about one configured intermediate CA."""

    name: str
    certificate: x509.Certificate
    # The intermediate's issuers up to and including its root, nearest first.
    chain_above: tuple[x509.Certificate, ...] = ()
    source: str = "local"


@dataclass(frozen=True)
class IssuedCertificate:
    """A collected certificate with the chain the device must present (leaf first)."""

    certificate: x509.Certificate
    intermediate: str
    order_id: str
    # Leaf first, then the intermediate(s); the root is not part of what a device presents.
    chain: tuple[x509.Certificate, ...] = field(default_factory=tuple)


class OrderPending(Exception):
    """Raised by `collect()` when the order is not ready yet and waiting was not allowed."""

    def __init__(self, order_id: str, reason: str = "pending") -> None:
        super().__init__(f"Order {order_id} is not ready yet ({reason}).")
        self.order_id = order_id
        self.reason = reason


class Issuer(abc.ABC):
    """A source of leaf and verification certificates, by named intermediate."""

    kind: str = "abstract"

    @abc.abstractmethod
    def intermediate_names(self) -> list[str]:
        """The intermediates this issuer can issue through."""

    @abc.abstractmethod
    def intermediate(self, name: str) -> IntermediateInfo:
        """The intermediate's certificate and its chain up to the root.
        Unknown names raise `InputError`."""

    @abc.abstractmethod
    def order(self, intermediate: str, csr: x509.CertificateSigningRequest, *, comment: str = "") -> str:
        """Place an order for a client-authentication leaf for `csr`; returns the order id."""

    @abc.abstractmethod
    def collect(self, intermediate: str, order_id: str, *, wait: bool = True) -> IssuedCertificate:
        """Collect an order placed earlier. With `wait=False` a not-yet-issued order raises
        `OrderPending`; with `wait=True` the issuer polls up to its configured limit."""

    @abc.abstractmethod
    def revoke(self, order_id: str, reason: str = "superseded") -> None:
        """Revoke the certificate of an order (re-provision, decommission)."""

    def issue(
        self,
        intermediate: str,
        csr: x509.CertificateSigningRequest,
        *,
        on_order: Callable[[str], None] | None = None,
        comment: str = "",
    ) -> IssuedCertificate:
        """Order and collect; `on_order(order_id)` runs between the two (record it there)."""
        order_id = self.order(intermediate, csr, comment=comment)
        if on_order is not None:
            on_order(order_id)
        return self.collect(intermediate, order_id)

    def issue_verification_certificate(self, intermediate: str, code: str) -> IssuedCertificate:
        """A certificate with CN = `code` from `intermediate`, for IoT Central proof of
        possession. Its key is thrown away: only the certificate matters."""
        from certbench.core.x509.identity import make_identity

        identity = make_identity(code, "ec-p256", validate_cn=False)
        return self.issue(intermediate, identity.csr, comment="IoT Central proof of possession")
