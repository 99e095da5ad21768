"""The SDK's credential files: private folder, encrypted key, gone afterwards on every path."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from certbench.core.dps.files import sdk_credential_files
from certbench.core.x509.keys import load_encrypted_private_key, public_key_bytes
from certbench.core.x509.parse import load_certificates


def test_files_are_private_encrypted_and_removed(make_unit, private_tmp):
    unit = make_unit("mc-files-000001")
    with sdk_credential_files(unit.chain, unit.key) as files:
        assert os.path.dirname(files.folder) == str(private_tmp)
        if os.name == "posix":
            assert stat.S_IMODE(os.stat(files.folder).st_mode) == 0o700
            for path in (files.certificate_file, files.key_file):
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(files.certificate_file, "rb") as handle:
            assert [c.subject for c in load_certificates(handle.read())] == [c.subject for c in unit.chain]
        with open(files.key_file, "rb") as handle:
            data = handle.read()
        assert b"ENCRYPTED PRIVATE KEY" in data
        with pytest.raises(TypeError):  # no clear key: loading without the passphrase is refused
            load_pem_private_key(data, password=None)
        key = load_encrypted_private_key(data, files.passphrase.encode())
        assert public_key_bytes(key) == public_key_bytes(unit.key)
        assert files.passphrase not in repr(files)
    assert list(private_tmp.iterdir()) == []


def test_files_are_removed_when_the_block_fails(make_unit, private_tmp):
    unit = make_unit("mc-files-000002")
    with pytest.raises(RuntimeError):
        with sdk_credential_files(unit.chain, unit.key):
            raise RuntimeError("the SDK failed while loading")
    assert list(private_tmp.iterdir()) == []


def test_each_call_gets_a_fresh_passphrase(make_unit, private_tmp):
    unit = make_unit("mc-files-000003")
    with sdk_credential_files(unit.chain, unit.key) as a, sdk_credential_files(unit.chain, unit.key) as b:
        assert a.passphrase != b.passphrase and a.folder != b.folder
