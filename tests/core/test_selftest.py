"""`certbench --self-test`: each item passes on a working installation and fails, with a
message and a hint, when its part is broken; the exit code says whether all passed."""

from __future__ import annotations

import json

import keyring
import keyring.backend
import keyring.errors
import pytest

from certbench.core import selftest
from certbench.core.cli import main


class OsLikeKeyring(keyring.backend.KeyringBackend):
    """Stands in for Credential Manager: a store that is not the process-only MemoryKeyring."""

    priority = 5  # type: ignore[assignment]

    def __init__(self, refuse: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        if self.refuse:
            raise keyring.errors.PasswordSetError("blob too large")
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def os_keyring():
    backend = OsLikeKeyring()
    keyring.set_keyring(backend)
    return backend


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return info.value.code, out, err


def _by_name(report: selftest.SelfTestReport) -> dict[str, selftest.CheckResult]:
    return {check.name: check for check in report.checks}


def test_every_item_passes_on_a_working_installation(os_keyring):
    report = selftest.run_checks()
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert failed == {}
    assert report.ok
    assert [c.name for c in report.checks] == [name for name, _t, _f in selftest.CHECKS]
    checks = _by_name(report)
    assert "window shown, text drawn" in checks["qt"].detail
    assert "DigiCert Global Root G2" in checks["resources"].detail
    assert "OsLikeKeyring" in checks["keyring"].detail
    assert os_keyring.store == {}, "the keyring probe must leave nothing behind"


def test_cli_json_report_and_exit_code_zero(os_keyring, capsys):
    code, out, _ = _cli(capsys, "--self-test", "--json", "--skip", "qt")
    report = json.loads(out)
    assert code == 0
    assert report["ok"] is True and report["frozen"] is False
    assert {c["name"] for c in report["checks"]} == {name for name, _t, _f in selftest.CHECKS} - {"qt"}
    assert all(c["ok"] and c["detail"] for c in report["checks"])


def test_process_only_keyring_fails_with_a_hint_and_exit_code_one(memory_keyring, capsys):
    code, out, _ = _cli(capsys, "self-test", "--json", "--only", "keyring", "--only", "crypto")
    report = json.loads(out)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 1 and report["ok"] is False
    assert checks["crypto"]["ok"] is True
    assert checks["keyring"]["ok"] is False
    assert "lives as long as the process" in checks["keyring"]["detail"]
    assert "Credential Manager" in checks["keyring"]["hint"]


def test_keyring_that_refuses_to_store_fails():
    keyring.set_keyring(OsLikeKeyring(refuse=True))
    result = _by_name(selftest.run_checks(only=["keyring"]))["keyring"]
    assert not result.ok
    assert "refused to store" in result.detail
    assert "2560 bytes" in result.hint


def test_no_keyring_at_all_fails():
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    result = _by_name(selftest.run_checks(only=["keyring"]))["keyring"]
    assert not result.ok and "No usable OS keyring" in result.detail


def test_unwritable_data_folder_fails(os_keyring, certbench_home):
    (certbench_home / "data").write_text("a file where the data folder should be")
    result = _by_name(selftest.run_checks(only=["folders"]))["folders"]
    assert not result.ok
    assert "data folder is not writable" in result.detail
    assert "CERTBENCH_HOME" in result.hint


def test_folders_are_probed_and_left_clean(os_keyring, certbench_home):
    result = _by_name(selftest.run_checks(only=["folders"]))["folders"]
    assert result.ok
    for sub in ("data", "logs", "config"):
        assert str(certbench_home / sub) in result.detail
        assert list((certbench_home / sub).iterdir()) == []


def test_bad_machine_wide_settings_fail_and_name_the_file(os_keyring, certbench_home):
    site = certbench_home / "site-config"
    site.mkdir()
    (site / "certbench.toml").write_text("[bench]\nleaf_validity_days = 'ten'\n", encoding="utf-8")
    result = _by_name(selftest.run_checks(only=["settings"]))["settings"]
    assert not result.ok
    assert "leaf_validity_days" in result.detail


def test_good_machine_wide_settings_are_listed(os_keyring, certbench_home):
    site = certbench_home / "site-config"
    site.mkdir()
    (site / "certbench.toml").write_text('[iotcentral]\nsubdomain = "medicorp-devices"\n', encoding="utf-8")
    result = _by_name(selftest.run_checks(only=["settings"]))["settings"]
    assert result.ok
    assert str(site / "certbench.toml") in result.detail


def test_broken_qt_platform_plugin_is_reported_not_fatal(monkeypatch):
    # Qt aborts the process when the platform plugin cannot load; the probe's child process
    # takes that blow and the report carries on.
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-platform")
    report = selftest.run_checks(only=["qt", "crypto"])
    checks = _by_name(report)
    assert not checks["qt"].ok
    assert "did not load" in checks["qt"].detail
    assert "reinstall" in checks["qt"].hint.lower()
    assert checks["crypto"].ok


def test_crashing_check_is_a_failed_item(monkeypatch, os_keyring):
    def explode() -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(selftest, "CHECKS", [("boom", "Explodes", explode), *selftest.CHECKS[1:2]])
    report = selftest.run_checks()
    assert [c.ok for c in report.checks] == [False, True]
    assert report.checks[0].detail == "RuntimeError: boom"


def test_unknown_check_name_is_bad_usage(capsys):
    code, _out, err = _cli(capsys, "self-test", "--only", "nonsense")
    assert code == 3
    assert "Unknown check(s): nonsense" in err


def test_human_report_lists_each_item(os_keyring, capsys):
    code, out, _ = _cli(capsys, "self-test", "--skip", "qt")
    assert code == 0
    assert out.count("PASS") == len(selftest.CHECKS) - 1 and "FAIL" not in out
    assert "Crypto backend works" in out
    assert "All 7 checks passed." in out
