"""Test-wide fixtures: a fresh Certbench home per test, an in-memory keyring, Qt offscreen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import keyring
import pytest

from certbench.core.secrets import MemoryKeyring


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    from certbench.core import secrets

    secrets.forget_seen_values()
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def certbench_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own config, data and log folders."""
    home = tmp_path_factory.mktemp("certbench-home")
    monkeypatch.setenv("CERTBENCH_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _drop_log_handlers_added_by_the_test():
    """A test that sets up file logging writes into its own home; detach the handler after."""
    import logging

    before = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


@pytest.fixture
def local_ca(tmp_path):
    """The embedded local CA, made in the test's own folder."""
    from certbench.core.pki.local import LocalCA

    return LocalCA(tmp_path / "local-ca").ensure()
