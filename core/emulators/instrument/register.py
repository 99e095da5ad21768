"""REGISTER for the simulated instrument: it registers itself with DPS through the real
azure-iot-device client (certbench.core.dps.register_with_dps), with what it holds live (its
chain, its key) and the DPS settings of the request (ID scope, host, server CA), and answers
with the outcome as an instrument would (docs/instrument-protocol.md, 0x0A REGISTER).

The DPS server is verified as the protocol says: with the instrument's TRUST store (its root
certificates), or with only the TRUST certificate whose SHA-256 the request names. An emulator's server certificate
cannot chain to Azure's public roots, so a registrar may be given `server_cas`, the CA(s)
the simulated instrument trusts as if they were built in (demo mode gives it the DPS
emulator's CA); they count as part of the trust store for that choice.

One implementation for demo mode (DemoServices), tests and `certbench emulate instrument`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certbench.core.errors import CertbenchError
from certbench.core.instrument.protocol import RegisterRequest, RegisterResponse, RegisterStatus
from certbench.core.x509.inspect import is_self_signed
from certbench.core.x509.keys import PrivateKey
from certbench.core.x509.parse import to_pem

log = logging.getLogger(__name__)

GLOBAL_DPS_HOST = "global.azure-devices-provisioning.net"
# The answer's message is a str8 and must leave room in one frame for the hub name and device id.
MESSAGE_BYTES = 160

# RegistrationOutcome.reason -> the REGISTER status a device reports.
STATUS_BY_REASON = {
    "assigned": RegisterStatus.ASSIGNED,
    "missing-intermediate": RegisterStatus.NOT_AUTHORIZED,
    "ca-not-verified": RegisterStatus.NOT_AUTHORIZED,
    "cn-mismatch": RegisterStatus.NOT_AUTHORIZED,
    "invalid-registration-id": RegisterStatus.NOT_AUTHORIZED,
    "expired": RegisterStatus.NOT_AUTHORIZED,
    "not-yet-valid": RegisterStatus.NOT_AUTHORIZED,
    "connect-refused": RegisterStatus.NOT_AUTHORIZED,
    "group-disabled": RegisterStatus.DISABLED,
    "unreachable": RegisterStatus.NETWORK_ERROR,
    "timeout": RegisterStatus.TIMEOUT,
    "throttled": RegisterStatus.TIMEOUT,
    "server-not-trusted": RegisterStatus.TLS_ERROR,
    "tls-refused": RegisterStatus.TLS_ERROR,
}


def short_message(text: str, limit: int = MESSAGE_BYTES) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "..."


class DpsRegistrar:
    """A RegisterHandler (see device.py) doing a real DPS registration."""

    takes_trust_store = True

    def __init__(self, server_cas: Sequence[x509.Certificate] = (), *, timeout: float = 30.0) -> None:
        self.server_cas = list(server_cas)
        self.timeout = timeout

    def __call__(self, request: RegisterRequest, chain: list[x509.Certificate], key: PrivateKey, *,
                 trust: Sequence[x509.Certificate] = ()) -> RegisterResponse:
        from certbench.core.dps import register_with_dps

        known = _unique([*trust, *self.server_cas])
        if request.server_ca_sha256 is not None:
            chosen = [c for c in known if c.fingerprint(hashes.SHA256()) == request.server_ca_sha256]
            if not chosen:
                return RegisterResponse(RegisterStatus.TLS_ERROR, "", "", short_message(
                    f"The server CA asked for ({request.server_ca_sha256.hex()[:16]}...) is not in my trust store."))
        else:
            # Roots only: OpenSSL completes a client chain from the CAs it trusts, so with the
            # product's intermediate among them a leaf-alone CHAIN store would still register
            # here, and the bench would miss the field's most common failure.
            chosen = [c for c in known if is_self_signed(c)]
        if not chosen:
            return RegisterResponse(RegisterStatus.TLS_ERROR, "", "",
                                    "My trust store is empty: nothing to verify the DPS server with.")
        try:
            outcome = register_with_dps(chain, key, id_scope=request.id_scope, host=request.host or GLOBAL_DPS_HOST,
                                        server_ca_pem=to_pem(chosen), timeout=self.timeout)
        except CertbenchError as exc:  # input that could not even be tried (key not the leaf's)
            return RegisterResponse(RegisterStatus.OTHER, "", "", short_message(exc.message))
        status = STATUS_BY_REASON.get(outcome.reason, RegisterStatus.OTHER)
        log.info("simulated instrument %s: REGISTER -> %s (%s)", outcome.registration_id, status.name, outcome.reason)
        return RegisterResponse(int(status), outcome.assigned_hub or "", outcome.device_id or "",
                                "" if outcome.ok else short_message(outcome.message))


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: set[bytes] = set()
    out = []
    for cert in certs:
        fp = cert.fingerprint(hashes.SHA256())
        if fp not in seen:
            seen.add(fp)
            out.append(cert)
    return out


__all__ = ["DpsRegistrar", "GLOBAL_DPS_HOST", "STATUS_BY_REASON", "short_message"]
