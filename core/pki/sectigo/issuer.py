"""`SectigoIssuer`: the `Issuer` interface over Sectigo Certificate Manager.

Each configured intermediate (source "sectigo") maps to a device-certificate profile
(`certType`), an `orgId` and a term: in SCM the profile decides which CA signs.

Ordering and collecting are separate calls: `order()` returns SCM's deviceCertId as soon as
Sectigo accepted the request, and the caller records it before collecting, so a crash or
a timeout resumes by collecting the same order. The issuer also keeps a small journal of its
own orders (public data only: the CSR, the CN asked for, the intermediate) in the data
folder, so that a later process can check what it collects against what was asked.

What comes back is checked, never trusted: issued by the expected intermediate (name and
signature), CN equal to the CN asked for (an SCM profile's subject template may rewrite it),
clientAuth in the EKU, the public key equal to the CSR's. The chain is ordered here, since
SCM may send it root first.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509

from certbench.core import paths
from certbench.core.errors import ConfigError, InputError
from certbench.core.pki.base import IntermediateInfo, IssuedCertificate, Issuer, OrderPending
from certbench.core.pki.sectigo.client import REVOCATION_REASONS, SectigoClient
from certbench.core.pki.sectigo.errors import (
    CertificateNotReady,
    CertificateRejected,
    CollectTimeout,
    OrderDeclined,
    SectigoError,
    SectigoResponseError,
    SectigoRevoked,
)
from certbench.core.pki.sectigo.formats import parse_collected
from certbench.core.x509.chain import ChainError, order_chain, verify_signed_by
from certbench.core.x509.csr import check_csr_signature, csr_common_name, csr_to_pem
from certbench.core.x509.inspect import (
    common_name,
    display_name,
    extended_key_usage_names,
    is_ca,
    is_self_signed,
)
from certbench.core.x509.keys import same_public_key
from certbench.core.x509.parse import load_certificate_file, to_der, to_pem

StatusCallback = Callable[[str, str], None]


class SectigoIssuer(Issuer):
    kind = "sectigo"

    def __init__(
        self,
        client: SectigoClient,
        intermediates: Sequence,  # certbench.core.config.Intermediate, source "sectigo"
        *,
        poll_limit_seconds: float = 600.0,
        poll_interval: float = 2.0,
        poll_max_interval: float = 30.0,
        collect_format: str = "pem",
        state_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_status: StatusCallback | None = None,
    ) -> None:
        self.client = client
        self._intermediates = {i.name: i for i in intermediates}
        if not self._intermediates:
            raise ConfigError(
                "No intermediate CA is configured with source = \"sectigo\".",
                "Add the intermediates with their Sectigo profile_id and org_id in Settings.",
            )
        self.poll_limit_seconds = poll_limit_seconds
        self.poll_interval = poll_interval
        self.poll_max_interval = poll_max_interval
        self.collect_format = collect_format
        self.state_dir = Path(state_dir) if state_dir else paths.data_dir() / "sectigo"
        self._sleep = sleep
        self._clock = clock
        self.on_status = on_status

    @classmethod
    def from_settings(cls, settings, *, client: SectigoClient | None = None, **kwargs) -> SectigoIssuer:
        kwargs.setdefault("poll_limit_seconds", settings.sectigo.poll_limit_seconds)
        return cls(
            client or SectigoClient.from_settings(settings.sectigo),
            [i for i in settings.intermediates if i.source == "sectigo"],
            **kwargs,
        )

    def close(self) -> None:
        self.client.close()

    # -- intermediates ---------------------------------------------------------------------
    def _config(self, name: str):
        if name not in self._intermediates:
            raise InputError(
                f"No Sectigo intermediate is named '{name}'.",
                f"Sectigo intermediates in Settings: {', '.join(self._intermediates)}.",
            )
        return self._intermediates[name]

    def intermediate_names(self) -> list[str]:
        return list(self._intermediates)

    def cache_file(self, name: str) -> Path:
        return self.state_dir / "intermediates" / f"{name}.pem"

    def _known_chain(self, name: str) -> list[x509.Certificate] | None:
        """The intermediate and what is above it, from its configured file or the cache."""
        config = self._config(name)
        path = Path(config.certificate_file) if config.certificate_file else self.cache_file(name)
        if not path.is_file():
            if config.certificate_file:
                raise ConfigError(
                    f"The certificate file of intermediate '{name}' ({path}) does not exist.",
                    "Correct certificate_file in Settings, or fetch it with `certbench ca fetch " + name + "`.",
                )
            return None
        try:
            return order_chain(load_certificate_file(path))
        except ChainError as exc:
            raise ConfigError(f"The certificate file of intermediate '{name}' ({path}) is not one chain: {exc.message}",
                              "Keep only the intermediate (and its root) in that file.") from None

    def intermediate(self, name: str) -> IntermediateInfo:
        chain = self._known_chain(name)
        if chain is None:
            raise ConfigError(
                f"The certificate of intermediate '{name}' is not known yet.",
                f"Run `certbench ca fetch {name}` (it reads it from an issued Sectigo order), or import its PEM file "
                f"with `certbench ca fetch {name} --file FILE`.",
            )
        return IntermediateInfo(name, chain[0], tuple(chain[1:]), source="sectigo")

    def _save_intermediate(self, name: str, chain: list[x509.Certificate]) -> IntermediateInfo:
        if not is_ca(chain[0]) or is_self_signed(chain[0]):
            raise InputError(
                f"'{display_name(chain[0])}' is not an intermediate CA certificate.",
                "Give the intermediate CA's certificate (not a device certificate or the root).",
            )
        for other in self._intermediates:
            if other == name:
                continue
            try:
                known = self._known_chain(other)
            except ConfigError:
                continue
            if known and to_der(known[0]) == to_der(chain[0]):
                raise ConfigError(
                    f"The certificate for intermediate '{name}' is the one already known for '{other}' "
                    f"('{display_name(chain[0])}').",
                    "Two intermediates point at the same CA: check their profile_id in Settings.",
                )
        target = self.cache_file(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(to_pem(chain))
        os.replace(tmp, target)
        return IntermediateInfo(name, chain[0], tuple(chain[1:]), source="sectigo")

    def import_intermediate(self, name: str, path: str | Path) -> IntermediateInfo:
        self._config(name)
        try:
            chain = order_chain(load_certificate_file(path))
        except ChainError as exc:
            raise InputError(f"'{path}' is not one certificate chain: {exc.message}", exc.hint) from None
        if not is_ca(chain[0]):
            chain = chain[1:]  # a device certificate with its chain: keep the CA part
        if not chain:
            raise InputError(f"'{path}' holds no CA certificate.", "Give the intermediate CA's PEM file.")
        return self._save_intermediate(name, chain)

    def fetch_intermediate(self, name: str, order_id: str | None = None) -> IntermediateInfo:
        """Read the intermediate from an issued order on its profile (`x509IO`): the given
        one, or the newest issued order. The leaf of that order must verify against it."""
        config = self._config(name)
        if order_id is None:
            orders, _ = self.client.list_orders(cert_type_id=config.profile_id, status="Issued", size=200)
            if not orders:
                raise ConfigError(
                    f"Sectigo has no issued order on profile {config.profile_id} to read the intermediate '{name}' from.",
                    f"Import its PEM file with `certbench ca fetch {name} --file FILE`, or issue one unit first.",
                )
            order_id = max(orders, key=lambda o: int(o.order_id) if o.order_id.isdigit() else 0).order_id
        else:
            # An order on another profile carries another CA: keeping it under this name
            # would upload the wrong certificate to IoT Central later.
            placed_on = self.client.details(order_id).cert_type_id
            if placed_on is not None and placed_on != config.profile_id:
                raise InputError(
                    f"Sectigo order {order_id} was placed on profile {placed_on}, not on profile {config.profile_id} "
                    f"of intermediate '{name}'.",
                    f"Give an order placed through '{name}' (`certbench sectigo list -i {name}`), or leave out --order "
                    "to use its newest issued one.",
                )
        issuers = self._parse(self.client.collect(order_id, "x509IO"), "x509IO", order_id)
        leaf = self._parse(self.client.collect(order_id, "x509CO"), "x509CO", order_id)[0]
        try:
            chain = order_chain(issuers)
        except ChainError as exc:
            raise SectigoResponseError(f"The CA certificates of order {order_id} are not one chain: {exc.message}",
                                       order_id=order_id) from None
        if not (leaf.issuer == chain[0].subject and verify_signed_by(leaf, chain[0])):
            raise SectigoResponseError(
                f"The certificate of order {order_id} was not signed by the CA Sectigo returned with it "
                f"('{display_name(chain[0])}').",
                "Try another order (`--order`), or import the intermediate's PEM file.",
                order_id=order_id,
            )
        return self._save_intermediate(name, chain)

    # -- ordering --------------------------------------------------------------------------
    def _journal(self, order_id: str) -> Path:
        safe = "".join(c for c in order_id if c.isalnum() or c in "-_")
        return self.state_dir / "orders" / f"{safe}.json"

    def _write_journal(self, order_id: str, data: dict) -> None:
        path = self._journal(order_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)

    def _read_journal(self, order_id: str) -> dict | None:
        path = self._journal(order_id)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def recorded_intermediate(self, order_id: str) -> str | None:
        """The intermediate this bench ordered `order_id` through, if it placed the order."""
        return (self._read_journal(order_id) or {}).get("intermediate")

    def order(self, intermediate: str, csr: x509.CertificateSigningRequest, *, comment: str = "") -> str:
        config = self._config(intermediate)
        check_csr_signature(csr)  # a bad request never reaches Sectigo
        cn = csr_common_name(csr)
        if not cn:
            raise InputError("The certificate request has no common name (CN).", "Make the CSR with the unit's CN.")
        result = self.client.enroll(
            org_id=config.org_id,
            cert_type=config.profile_id,
            csr_pem=csr_to_pem(csr),
            term=config.term_days,
            comments=comment,
        )
        self._write_journal(result.order_id, {
            "order_id": result.order_id,
            "intermediate": intermediate,
            "profile_id": config.profile_id,
            "common_name": cn,
            "csr": csr_to_pem(csr),
            "status": result.status,
            "ordered": datetime.now(timezone.utc).isoformat(),
        })
        if result.awaiting_approval and self.on_status:
            self.on_status(result.order_id, "awaiting approval")
        return result.order_id

    # -- collecting ------------------------------------------------------------------------
    def order_status(self, order_id: str) -> str | None:
        """SCM's status of the order, upper case; None when it cannot be read right now."""
        try:
            return self.client.details(order_id).status
        except SectigoError:
            return None

    def _poll(self, order_id: str, wait: bool) -> bytes:
        started = self._clock()
        delay = self.poll_interval
        while True:
            try:
                return self.client.collect(order_id, self.collect_format)
            except CertificateNotReady as pending:
                status = self.order_status(order_id)
                if status in ("DECLINED", "REJECTED"):
                    raise OrderDeclined(
                        f"Sectigo order {order_id} was {status.lower()} by an administrator.",
                        "Ask the SCM administrator why; then order again for this unit.",
                        order_id=order_id, code=pending.code, description=pending.description,
                    ) from None
                if status == "REVOKED":
                    raise SectigoRevoked(f"The certificate of Sectigo order {order_id} was revoked.",
                                         "Issue a new certificate for the unit.", order_id=order_id) from None
                awaiting = status == "REQUESTED"
                reason = "awaiting approval" if awaiting else "being processed by Sectigo"
                if self.on_status:
                    self.on_status(order_id, reason)
                if not wait:
                    raise OrderPending(order_id, reason) from None
                waited = self._clock() - started
                remaining = self.poll_limit_seconds - waited
                if remaining <= 0:
                    raise CollectTimeout(order_id, waited=waited, awaiting_approval=awaiting, status=status) from None
                self._sleep(min(delay, remaining))
                delay = min(delay * 2, self.poll_max_interval)

    def _parse(self, data: bytes, fmt: str, order_id: str) -> list[x509.Certificate]:
        try:
            return parse_collected(data, fmt)
        except ValueError as exc:
            raise SectigoResponseError(
                f"Sectigo's answer when collecting order {order_id} (format {fmt}) is not what the API documents: {exc}.",
                f"Collect it again later (`certbench sectigo collect {order_id}`); if it persists, check [sectigo] "
                "base_url (a proxy or maintenance page may answer instead of SCM).",
                order_id=order_id,
            ) from None

    def collect(
        self,
        intermediate: str,
        order_id: str,
        *,
        wait: bool = True,
        expected_cn: str | None = None,
        csr: x509.CertificateSigningRequest | None = None,
    ) -> IssuedCertificate:
        self._config(intermediate)
        journal = self._read_journal(order_id) or {}
        if journal.get("intermediate") and journal["intermediate"] != intermediate:
            raise InputError(
                f"Sectigo order {order_id} was placed through intermediate '{journal['intermediate']}', not '{intermediate}'.",
                f"Collect it for '{journal['intermediate']}'.",
            )
        if csr is None and journal.get("csr"):
            csr = x509.load_pem_x509_csr(journal["csr"].encode())
        expected_cn = expected_cn or journal.get("common_name") or (csr_common_name(csr) if csr else None)
        data = self._poll(order_id, wait)
        certs = self._parse(data, self.collect_format, order_id)
        if expected_cn is None:
            # An order this bench did not place (no journal): what was asked is on record at SCM.
            expected_cn = self.client.details(order_id).common_name
        issued = self._check(intermediate, order_id, certs, expected_cn, csr.public_key() if csr else None)
        if journal:
            journal["status"] = "COLLECTED"
            self._write_journal(order_id, journal)
        return issued

    def _reject(self, order_id: str, message: str, hint: str) -> CertificateRejected:
        return CertificateRejected(
            message,
            f"{hint} The certificate was not used; revoke it with `certbench sectigo revoke --order {order_id}`.",
            order_id=order_id,
        )

    def _check(self, name, order_id, certs, expected_cn, expected_key) -> IssuedCertificate:
        config = self._config(name)
        try:
            chain = order_chain(certs)
        except ChainError as exc:
            raise SectigoResponseError(
                f"The certificates Sectigo returned for order {order_id} are not one chain: {exc.message}",
                order_id=order_id,
            ) from None
        leaf = chain[0]
        if is_ca(leaf):
            raise SectigoResponseError(f"Sectigo returned no device certificate for order {order_id}, only CA certificates.",
                                       order_id=order_id)
        known = self._known_chain(name)
        learned = known is None
        if learned:
            if len(chain) < 2:
                raise SectigoResponseError(
                    f"Sectigo returned order {order_id} without its intermediate, and intermediate '{name}' is not known yet.",
                    f"Run `certbench ca fetch {name}`, then collect the order again.",
                    order_id=order_id,
                )
            known = chain[1:]
        expected = known[0]
        if not (leaf.issuer == expected.subject and verify_signed_by(leaf, expected)):
            raise self._reject(
                order_id,
                f"Sectigo order {order_id} was issued by '{common_name(leaf.issuer) or leaf.issuer.rfc4514_string()}', "
                f"not by intermediate '{name}' ('{display_name(expected)}').",
                f"Check that profile {config.profile_id} is the profile bound to '{name}' in SCM.",
            )
        if learned:
            self._save_intermediate(name, list(known))
        got_cn = common_name(leaf.subject)
        if got_cn != expected_cn:
            raise self._reject(
                order_id,
                f"Sectigo profile {config.profile_id} rewrote the subject: the certificate of order {order_id} has "
                f"CN '{got_cn}', but '{expected_cn}' was asked for.",
                "Ask the SCM administrator to set the profile's subject template to take the CN from the request "
                "unchanged.",
            )
        ekus = extended_key_usage_names(leaf) or []
        if "clientAuth" not in ekus:
            raise self._reject(
                order_id,
                f"The certificate of Sectigo order {order_id} does not allow client authentication "
                f"(extended key usage: {', '.join(ekus) or 'none'}).",
                f"Ask the SCM administrator to add clientAuth to profile {config.profile_id}.",
            )
        if expected_key is not None and not same_public_key(leaf.public_key(), expected_key):
            raise self._reject(
                order_id,
                f"The certificate of Sectigo order {order_id} carries a different public key than the request.",
                "Check that the order number belongs to this unit.",
            )
        device_chain = (leaf, *[c for c in known if not is_self_signed(c)])
        return IssuedCertificate(leaf, name, order_id, chain=device_chain)

    def revoke(self, order_id: str, reason: str = "superseded") -> None:
        if reason not in REVOCATION_REASONS:
            raise InputError(f"Unknown revocation reason '{reason}'.", "Use one of: " + ", ".join(REVOCATION_REASONS) + ".")
        self.client.revoke_order(order_id, reason_code=REVOCATION_REASONS[reason], reason=reason)

