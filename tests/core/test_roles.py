"""The administrator credential: salted scrypt hash in the keyring, never the password."""

from __future__ import annotations

import pytest

from certbench.core import roles, secrets
from certbench.core.errors import InputError, SecretStoreError


def test_hash_is_salted_and_verifies():
    first, second = roles.hash_password("correct horse"), roles.hash_password("correct horse")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$")
    assert roles.verify_password("correct horse", first)
    assert not roles.verify_password("correct horsE", first)


@pytest.mark.parametrize("stored", ["", "scrypt$1$2", "md5$1$1$1$AAAA$AAAA", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16$8$1$!!$AAAA"])
def test_malformed_stored_values_never_match(stored):
    assert not roles.verify_password("anything", stored)


def test_admin_password_lives_in_keyring_as_hash_only(memory_keyring):
    assert not roles.admin_password_is_set()
    with pytest.raises(SecretStoreError):
        roles.check_admin_password("whatever")
    roles.set_admin_password("bench-admin-2026")
    stored = memory_keyring.get_password(secrets.SERVICE, secrets.ADMIN_PASSWORD_HASH)
    assert "bench-admin-2026" not in stored
    assert roles.check_admin_password("bench-admin-2026")
    assert not roles.check_admin_password("bench-admin-2027")


def test_short_passwords_refused_except_for_demo():
    with pytest.raises(InputError):
        roles.set_admin_password("demo")
    with pytest.raises(InputError):
        roles.set_admin_password(" padded-password ")
    assert not roles.admin_password_is_set()
    roles.set_admin_password("demo", allow_short=True)
    assert roles.check_admin_password("demo")
