"""Sectigo Certificate Manager: REST client (`client`), sign-in modes (`auth`), typed errors
(`errors`), collect formats (`formats`) and the `Issuer` backend (`issuer`)."""

from certbench.core.pki.sectigo.client import SectigoClient
from certbench.core.pki.sectigo.issuer import SectigoIssuer

__all__ = ["SectigoClient", "SectigoIssuer"]
