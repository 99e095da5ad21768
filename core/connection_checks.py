""""Test connection" for the Settings dialog: one small, real call per service, made with the
values being edited (not yet saved), each returning one sentence or raising a CertbenchError
whose message and hint a person can act on.

IoT Central: list the enrollment groups; Sectigo: list the device-certificate profiles;
registry: open the database (creating or upgrading its schema) and count the units.
A test makes one try only (no retries): a person is waiting for the answer.
"""

from __future__ import annotations

from certbench.core import secrets
from certbench.core.config import IoTCentralSettings, RegistrySettings, SectigoSettings
from certbench.core.http import NO_RETRY

# A person is waiting; a real service answers well inside this.
TEST_TIMEOUT_SECONDS = 15.0


def _timeout(configured: float) -> float:
    return min(configured or TEST_TIMEOUT_SECONDS, TEST_TIMEOUT_SECONDS)


def check_iotcentral(settings: IoTCentralSettings, token: str | None = None) -> str:
    """`token`: a token typed but not saved yet; None uses the one in the OS keyring."""
    from certbench.core.iotcentral import ApiCredential, IoTCentralClient

    credential = ApiCredential(token, settings.auth) if token else ApiCredential.from_keyring(settings.auth)
    with IoTCentralClient(
        settings.resolved_base_url(),
        credential,
        timeout=_timeout(settings.timeout_seconds),
        ca_file=settings.ca_file or None,
        retry=NO_RETRY,
    ) as client:
        groups = client.list_groups()
    return f"Connected to {client.base_url}: {len(groups)} enrollment group(s)."


def check_sectigo(
    settings: SectigoSettings,
    *,
    password: str | None = None,
    client_cert_passphrase: str | None = None,
    oauth_client_secret: str | None = None,
) -> str:
    """Typed-but-unsaved secrets are used when given, else the ones in the OS keyring."""
    from certbench.core.pki.sectigo.auth import ClientCertAuth, OAuth2Auth, PasswordAuth, auth_from_settings
    from certbench.core.pki.sectigo.client import SectigoClient

    timeout = _timeout(settings.timeout_seconds)
    ca_file = settings.ca_file or None
    if settings.auth == "password" and password:
        auth = PasswordAuth(settings.login, password, settings.customer_uri)
    elif settings.auth == "client-cert" and client_cert_passphrase:
        auth = ClientCertAuth.from_file(settings.login, settings.customer_uri, settings.client_cert_file,
                                        client_cert_passphrase)
    elif settings.auth == "oauth2" and oauth_client_secret:
        auth = OAuth2Auth(settings.oauth_token_url, settings.oauth_client_id, oauth_client_secret,
                          timeout=timeout, ca_file=ca_file, retry=NO_RETRY)
    else:
        auth = auth_from_settings(settings)
    for value in (password, client_cert_passphrase, oauth_client_secret):
        if value:
            secrets.register_secret_value(value)
    with SectigoClient(settings.base_url, auth, timeout=timeout, ca_file=ca_file, retry=NO_RETRY) as client:
        profiles = client.profiles()
    return f"Signed in to {settings.base_url.rstrip('/')} ({settings.auth}): {len(profiles)} device certificate profile(s)."


def check_registry(settings: RegistrySettings) -> str:
    from certbench.core.registry import open_registry

    registry = open_registry(settings.url or None)
    try:
        count = registry.count_units()
        return f"Opened the {registry.backend} registry at {registry.location}: {count} unit(s)."
    finally:
        registry.close()


__all__ = ["TEST_TIMEOUT_SECONDS", "check_iotcentral", "check_registry", "check_sectigo"]
