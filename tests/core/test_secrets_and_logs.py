import logging

import keyring
import pytest
from keyring.backends import fail

from certbench.core import secrets
from certbench.core.errors import SecretStoreError
from certbench.core.logs import setup_logging
from certbench.core.pki.local import LocalCA
from certbench.core.x509.identity import make_identity

TOKEN = "SharedAccessSignature sr=abc&sig=Zm9vYmFyYmF6cXV4&skn=operator&se=1893456000"


def test_secrets_round_trip_through_the_keyring(memory_keyring):
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, TOKEN)
    assert memory_keyring.store[(secrets.SERVICE, secrets.IOTCENTRAL_TOKEN)] == TOKEN
    assert secrets.get_secret(secrets.IOTCENTRAL_TOKEN) == TOKEN
    secrets.delete_secret(secrets.IOTCENTRAL_TOKEN)
    assert secrets.get_secret(secrets.IOTCENTRAL_TOKEN) is None
    secrets.delete_secret(secrets.IOTCENTRAL_TOKEN)  # deleting twice is not an error


def test_missing_secret_says_how_to_set_it():
    with pytest.raises(SecretStoreError, match="not set") as info:
        secrets.require_secret(secrets.SECTIGO_PASSWORD, "Sectigo API password")
    assert "set-secret sectigo-password" in info.value.hint


def test_empty_secret_is_refused(memory_keyring):
    with pytest.raises(SecretStoreError):
        secrets.set_secret(secrets.SECTIGO_PASSWORD, "")
    assert memory_keyring.store == {}


def test_no_keyring_is_a_clear_error():
    keyring.set_keyring(fail.Keyring())
    assert not secrets.keyring_usable()
    with pytest.raises(SecretStoreError, match="No usable OS keyring") as info:
        secrets.set_secret(secrets.SECTIGO_PASSWORD, "x")
    assert "Demo mode works without one" in info.value.hint


def test_generated_secret_is_stable():
    first = secrets.get_or_create_secret(secrets.LOCAL_CA_PASSPHRASE)
    assert len(first) >= 32
    assert secrets.get_or_create_secret(secrets.LOCAL_CA_PASSPHRASE) == first


def test_log_file_never_holds_a_secret_or_key(certbench_home):
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, TOKEN)
    secrets.get_secret(secrets.IOTCENTRAL_TOKEN)
    path = setup_logging(logging.DEBUG)
    log = logging.getLogger("certbench.test")
    log.info("calling with header Authorization: %s", TOKEN)
    try:
        raise RuntimeError(f"service said no to {TOKEN}")
    except RuntimeError:
        log.exception("request failed")
    # The local CA's passphrase, made on first use, is scrubbed as well.
    ca = LocalCA().ensure()
    ca.issue("medicorp-ica-1", make_identity("mx200-log").csr)
    passphrase = secrets.get_secret(secrets.LOCAL_CA_PASSPHRASE)
    log.warning("passphrase %s leaked into a message", passphrase)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "request failed" in text and "***" in text
    assert TOKEN not in text and "Zm9vYmFyYmF6cXV4" not in text
    assert passphrase not in text
    # Nothing under the Certbench home holds a clear private key or a known secret.
    for file in certbench_home.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert b"BEGIN PRIVATE KEY" not in data and b"BEGIN EC PRIVATE KEY" not in data, file
            assert b"BEGIN RSA PRIVATE KEY" not in data, file
            assert TOKEN.encode() not in data and passphrase.encode() not in data, file


def test_too_long_secret_is_refused_before_the_keyring(memory_keyring):
    with pytest.raises(SecretStoreError, match="too long"):
        secrets.set_secret(secrets.SECTIGO_PASSWORD, "x" * 1281)
    assert memory_keyring.store == {}
    secrets.set_secret(secrets.SECTIGO_PASSWORD, "x" * 1280)


def test_memory_keyring_is_never_picked_automatically():
    from keyring.backend import get_all_keyring

    assert not any(isinstance(k, secrets.MemoryKeyring) for k in get_all_keyring())
