"""Test helpers: the Sectigo emulator on real HTTPS (client certificates requested), and
clients for each of the three sign-in modes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certbench.core.config import Intermediate
from certbench.core.http import RetryPolicy
from certbench.core.pki.sectigo.auth import ClientCertAuth, OAuth2Auth, PasswordAuth
from certbench.core.pki.sectigo.client import SectigoClient
from certbench.core.pki.sectigo.issuer import SectigoIssuer

if TYPE_CHECKING:
    from certbench.core.emulators.httpserver import EmulatorServer
    from certbench.core.emulators.sectigo.app import SectigoEmulator
    from certbench.core.emulators.tls import EmulatorCA

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
NAMES = tuple(f"medicorp-ica-{i}" for i in range(1, 5))


class Bench:
    """Everything a test needs: the emulator app, its server, and client factories."""

    def __init__(self, app: SectigoEmulator, server: EmulatorServer, tls: EmulatorCA, ca_file, tmp_path) -> None:
        self.app = app
        self.server = server
        self.tls = tls
        self.ca_file = ca_file
        self.tmp_path = tmp_path
        self.clients: list[SectigoClient] = []
        cert, key = tls.issue("certbench-cert-login", client=True)
        app.add_client_certificate("certbench-cert-login", cert)
        self.client_cert, self.client_key = cert, key
        self.oauth_secret = app.add_oauth_client("certbench-oauth")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def auth(self, mode: str = "password"):
        if mode == "password":
            return PasswordAuth(self.app.login, self.app.password, self.app.customer_uri)
        if mode == "client-cert":
            return ClientCertAuth("certbench-cert-login", self.app.customer_uri, self.client_key, [self.client_cert])
        if mode == "oauth2":
            return OAuth2Auth(self.base_url + "/auth/realms/apiclients/protocol/openid-connect/token",
                              "certbench-oauth", self.oauth_secret, ca_file=self.ca_file, timeout=5, retry=FAST_RETRY)
        raise ValueError(mode)

    def client(self, mode: str = "password", *, auth=None, timeout: float = 5.0, retry=FAST_RETRY) -> SectigoClient:
        client = SectigoClient(self.base_url, auth or self.auth(mode), timeout=timeout, ca_file=self.ca_file, retry=retry)
        self.clients.append(client)
        return client

    def intermediates(self, **overrides) -> list[Intermediate]:
        return [
            Intermediate(**{"name": n, "source": "sectigo", "profile_id": self.app.profile_for(n),
                            "org_id": self.app.org_id, "term_days": 365, **overrides.get(n, {})})
            for n in NAMES
        ]

    def issuer(self, mode: str = "password", *, client=None, intermediates=None, **kwargs) -> SectigoIssuer:
        kwargs.setdefault("poll_limit_seconds", 5.0)
        kwargs.setdefault("poll_interval", 0.01)
        kwargs.setdefault("poll_max_interval", 0.05)
        return SectigoIssuer(client or self.client(mode), intermediates or self.intermediates(), **kwargs)


