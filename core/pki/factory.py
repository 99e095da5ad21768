"""The issuer for the configured intermediates: the local CA, Sectigo, or both.

Each intermediate names its source in Settings. When they all come from one source, that
issuer is returned as is; otherwise `RoutingIssuer` sends each call to the issuer of the
intermediate it names. Intermediates with source "file" have a certificate but no issuing
service here: asking to issue through one is a configuration error.
"""

from __future__ import annotations

from cryptography import x509

from certbench.core.errors import ConfigError, InputError
from certbench.core.pki.base import IntermediateInfo, IssuedCertificate, Issuer


class RoutingIssuer(Issuer):
    kind = "routing"

    def __init__(self, routes: dict[str, Issuer]) -> None:
        self._routes = dict(routes)

    def _issuer(self, name: str) -> Issuer:
        if name not in self._routes:
            raise InputError(f"No intermediate is named '{name}'.", f"Configured: {', '.join(self._routes)}.")
        return self._routes[name]

    def intermediate_names(self) -> list[str]:
        return list(self._routes)

    def intermediate(self, name: str) -> IntermediateInfo:
        return self._issuer(name).intermediate(name)

    def order(self, intermediate: str, csr: x509.CertificateSigningRequest, *, comment: str = "") -> str:
        return self._issuer(intermediate).order(intermediate, csr, comment=comment)

    def collect(self, intermediate: str, order_id: str, *, wait: bool = True) -> IssuedCertificate:
        return self._issuer(intermediate).collect(intermediate, order_id, wait=wait)

    def revoke(self, order_id: str, reason: str = "superseded") -> None:
        # Order ids carry no intermediate; local-CA ids are prefixed "local-", Sectigo's are numbers.
        kind = "local" if order_id.startswith("local-") else "sectigo"
        for issuer in dict.fromkeys(self._routes.values()):
            if issuer.kind == kind:
                return issuer.revoke(order_id, reason)
        raise InputError(f"No configured issuer can revoke order {order_id}.")


def issuer_from_settings(settings) -> Issuer:  # settings: certbench.core.config.Settings
    from certbench.core.pki.local import LocalCA

    sources = {i.source for i in settings.intermediates}
    if "file" in sources:
        names = ", ".join(i.name for i in settings.intermediates if i.source == "file")
        # A file intermediate still shows in `ca status`; it just cannot issue (nor be proven) here.
        if sources == {"file"}:
            raise ConfigError(
                f"The intermediates ({names}) come from files: Certbench cannot issue certificates through them.",
                "Set source = \"sectigo\" (with profile_id and org_id) or \"local\" for an intermediate that issues.",
            )
    by_source: dict[str, Issuer] = {}
    if "local" in sources or not settings.intermediates:
        local = LocalCA.from_settings(settings)
        if sources <= {"local"}:
            return local
        by_source["local"] = local
    if "sectigo" in sources:
        from certbench.core.pki.sectigo.issuer import SectigoIssuer

        sectigo = SectigoIssuer.from_settings(settings)
        if sources == {"sectigo"}:
            return sectigo
        by_source["sectigo"] = sectigo
    # In the order of Settings, so lists and menus show the intermediates as configured.
    return RoutingIssuer({i.name: by_source[i.source] for i in settings.intermediates if i.source in by_source})
