"""The three ways Certbench signs in to Sectigo Certificate Manager.

- `PasswordAuth`: headers `login`, `password`, `customerUri`.
- `ClientCertAuth`: headers `login`, `customerUri` plus a TLS client certificate; SCM serves
  this mode under the `/private` URL prefix. The certificate and its key come from a PKCS#12
  or PEM file whose key is encrypted; the passphrase is in the keyring. `ssl` only loads keys
  from files, so the key goes through `emulators.tls.load_cert_chain`, which hands it over
  re-encrypted with a one-time passphrase: it is never on disk in clear.
- `OAuth2Auth`: client-credentials token from the SSO token URL, sent as a Bearer token and
  refreshed before it expires (and once more if Sectigo says it is no longer valid).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from certbench.core import secrets
from certbench.core.errors import ConfigError, InputError
from certbench.core.http import RetryPolicy, make_client, send_with_retry
from certbench.core.pki.sectigo.errors import SectigoAuthError, SectigoResponseError, SectigoUnavailable


class Auth:
    """What a client needs from an authentication mode."""

    path_prefix = ""
    mode = "abstract"

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def ssl_context(self, ca_file: str | Path | None) -> ssl.SSLContext | None:
        """A TLS context with the client certificate, or None for the default."""
        return None

    def invalidate(self) -> bool:
        """Called after HTTP 401; True when a new attempt may succeed (a fresh token)."""
        return False

    def close(self) -> None:
        pass


class PasswordAuth(Auth):
    mode = "password"

    def __init__(self, login: str, password: str, customer_uri: str) -> None:
        if not (login and password and customer_uri):
            raise ConfigError(
                "Sectigo sign-in needs a login, a password and the customerUri.",
                "Set [sectigo] login and customer_uri in Settings, and the password with "
                f"`certbench config set-secret {secrets.SECTIGO_PASSWORD}`.",
            )
        self._headers = {"login": login, "password": password, "customerUri": customer_uri}

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def __repr__(self) -> str:  # the password must never show up in a traceback
        return f"PasswordAuth(login={self._headers['login']!r}, customerUri={self._headers['customerUri']!r})"


def load_client_identity(path: str | Path, passphrase: bytes):
    """(key, [certificate, chain...]) from a PKCS#12 file or a PEM file holding the
    certificate(s) and an encrypted private key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

    from certbench.core.x509.keys import same_public_key

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"The Sectigo client certificate file '{path}' cannot be read ({exc.strerror or exc}).",
            "Check [sectigo] client_cert_file in Settings.",
        ) from None
    if b"-----BEGIN" in data:
        if b"ENCRYPTED PRIVATE KEY" not in data and b"Proc-Type: 4,ENCRYPTED" not in data:
            raise InputError(
                f"The private key in '{path}' is not encrypted (or the file has no key).",
                "Certbench only reads encrypted keys: export the client certificate with a passphrase.",
            )
        try:
            key = load_pem_private_key(data, password=passphrase)
        except ValueError:
            raise InputError(
                f"The key in '{path}' could not be decrypted: the passphrase is wrong or the file is damaged.",
                f"Store the right passphrase with `certbench config set-secret {secrets.SECTIGO_CLIENT_CERT_PASSPHRASE}`.",
            ) from None
        certs = x509.load_pem_x509_certificates(data)
    else:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError:
            raise InputError(
                f"'{path}' is not a PKCS#12 file Certbench can open with the stored passphrase.",
                f"Store the right passphrase with `certbench config set-secret {secrets.SECTIGO_CLIENT_CERT_PASSPHRASE}`.",
            ) from None
        if key is None or cert is None:
            raise InputError(f"'{path}' holds no certificate with its private key.", "Export the client certificate with its key.")
        certs = [cert, *extra]
    own = [c for c in certs if same_public_key(c.public_key(), key)]
    if not own:
        raise InputError(f"No certificate in '{path}' belongs to its private key.", "Export the certificate with its own key.")
    return key, [own[0], *[c for c in certs if c is not own[0]]]


class ClientCertAuth(Auth):
    mode = "client-cert"
    path_prefix = "/private"

    def __init__(self, login: str, customer_uri: str, key, chain) -> None:
        if not (login and customer_uri):
            raise ConfigError(
                "Sectigo client-certificate sign-in needs a login and the customerUri.",
                "Set [sectigo] login and customer_uri in Settings.",
            )
        self._headers = {"login": login, "customerUri": customer_uri}
        self._key = key
        self._chain = list(chain)

    @classmethod
    def from_file(cls, login: str, customer_uri: str, path: str | Path, passphrase: str | None = None) -> ClientCertAuth:
        if not path:
            raise ConfigError("No Sectigo client certificate file is configured.", "Set [sectigo] client_cert_file in Settings.")
        if passphrase is None:
            passphrase = secrets.require_secret(
                secrets.SECTIGO_CLIENT_CERT_PASSPHRASE, "passphrase of the Sectigo client certificate"
            )
        key, chain = load_client_identity(path, passphrase.encode())
        return cls(login, customer_uri, key, chain)

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def ssl_context(self, ca_file: str | Path | None) -> ssl.SSLContext:
        from certbench.core.emulators.tls import load_cert_chain

        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        load_cert_chain(context, self._chain, self._key)
        return context

    def __repr__(self) -> str:
        return f"ClientCertAuth(login={self._headers['login']!r})"


class OAuth2Auth(Auth):
    """Client credentials; the token is refreshed `refresh_margin` before it expires (or at
    the 80% mark of a short-lived token), and after a 401."""

    mode = "oauth2"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        ca_file: str | Path | None = None,
        refresh_margin: float = 60.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (token_url and client_id and client_secret):
            raise ConfigError(
                "Sectigo OAuth2 sign-in needs the token URL, a client id and the client secret.",
                "Set [sectigo] oauth_token_url and oauth_client_id in Settings, and the secret with "
                f"`certbench config set-secret {secrets.SECTIGO_OAUTH_SECRET}`.",
            )
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = make_client(token_url, timeout=timeout, ca_file=ca_file)
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._refresh_margin = refresh_margin
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def _fetch(self) -> None:
        request = self._http.build_request(
            "POST",
            self.token_url,
            data={"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret},
            headers={"Accept": "application/json"},
        )
        started = self._clock()
        try:
            response = send_with_retry(self._http, request, policy=self._retry, sleep=self._sleep)
        except httpx.TransportError as exc:
            raise SectigoUnavailable(
                f"The Sectigo sign-in service did not answer ({type(exc).__name__}).",
                "Check the network connection and [sectigo] oauth_token_url, then try again.",
            ) from None
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            error = body.get("error") or f"HTTP {response.status_code}"
            detail = body.get("error_description") or ""
            cls = SectigoUnavailable if response.status_code >= 500 or response.status_code == 429 else SectigoAuthError
            raise cls(
                f"The Sectigo sign-in service refused the API client '{self._client_id}': {error}"
                + (f" ({detail})" if detail else "") + ".",
                "Check [sectigo] oauth_client_id and the stored client secret "
                f"(`certbench config set-secret {secrets.SECTIGO_OAUTH_SECRET}`).",
                status=response.status_code,
                description=detail or error,
            )
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise SectigoResponseError(
                "The Sectigo sign-in service answered without an access token.",
                "Check [sectigo] oauth_token_url: it must be the OpenID Connect token endpoint.",
            ) from None
        if not isinstance(token, str) or not token:
            raise SectigoResponseError("The Sectigo sign-in service sent an empty access token.")
        secrets.register_secret_value(token)
        margin = min(self._refresh_margin, lifetime * 0.2)
        self._token = token
        self._refresh_at = started + lifetime - margin
        self.tokens_fetched += 1

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"OAuth2Auth(client_id={self._client_id!r})"


def auth_from_settings(settings) -> Auth:  # settings: certbench.core.config.SectigoSettings
    if settings.auth == "password":
        password = secrets.require_secret(secrets.SECTIGO_PASSWORD, "Sectigo password")
        return PasswordAuth(settings.login, password, settings.customer_uri)
    if settings.auth == "client-cert":
        return ClientCertAuth.from_file(settings.login, settings.customer_uri, settings.client_cert_file)
    if settings.auth == "oauth2":
        secret = secrets.require_secret(secrets.SECTIGO_OAUTH_SECRET, "Sectigo OAuth2 client secret")
        return OAuth2Auth(
            settings.oauth_token_url,
            settings.oauth_client_id,
            secret,
            timeout=settings.timeout_seconds,
            ca_file=settings.ca_file or None,
        )
    raise ConfigError(f"Unknown Sectigo sign-in mode '{settings.auth}'.", "Use password, client-cert or oauth2.")
