"""Settings: values persist to the settings file, secrets land in the keyring and in no file,
problems are explained next to the field, and "Test connection" talks to real (emulated)
services off the GUI thread."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PySide6.QtWidgets import QComboBox

from certbench.core import secrets
from certbench.core.config import default_settings, load_settings
from certbench.core.errors import ConfigError
from certbench.gui.settings_dialog import SettingsDialog, problem_key
from settings_helpers import settle, type_into

TOKEN = "SharedAccessSignature sr=a1b2&sig=UNIQUE-token-value-9f8e7d&skn=certbench&se=9999999999"
SECTIGO_PASSWORD = "sectigo-Pa55word-unique-4711"




def _files_containing(root: Path, needle: str) -> list[Path]:
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if needle.encode() in path.read_bytes():
                hits.append(path)
    return hits


def test_settings_and_secrets_persist_secrets_only_in_keyring(qtbot, dialog, memory_keyring, certbench_home):
    assert dialog.secret_fields[secrets.IOTCENTRAL_TOKEN].placeholderText().startswith("not set")
    type_into(dialog, "iotcentral.subdomain", "medicorp-devices")
    type_into(dialog, "bench.workstation", "bench-07")
    type_into(dialog, "bench.scanner_suffix", "#")
    dialog.fields["sectigo.auth"].setCurrentIndex(dialog.fields["sectigo.auth"].findData("oauth2"))
    type_into(dialog, "sectigo.oauth_client_id", "certbench-client")
    dialog.secret_fields[secrets.IOTCENTRAL_TOKEN].setText(TOKEN)
    dialog.secret_fields[secrets.SECTIGO_PASSWORD].setText(SECTIGO_PASSWORD)
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        dialog.save()
    assert saved.args[0].iotcentral.subdomain == "medicorp-devices"

    loaded = load_settings()
    assert loaded.iotcentral.subdomain == "medicorp-devices"
    assert loaded.bench.workstation == "bench-07"
    assert loaded.bench.scanner_suffix == "#"
    assert loaded.sectigo.auth == "oauth2" and loaded.sectigo.oauth_client_id == "certbench-client"
    assert memory_keyring.get_password(secrets.SERVICE, secrets.IOTCENTRAL_TOKEN) == TOKEN
    assert memory_keyring.get_password(secrets.SERVICE, secrets.SECTIGO_PASSWORD) == SECTIGO_PASSWORD
    settle(qtbot)
    for needle in ("UNIQUE-token-value", SECTIGO_PASSWORD):
        assert _files_containing(certbench_home, needle) == []

    again = SettingsDialog(loaded)
    qtbot.addWidget(again)
    settle(qtbot)
    token_field = again.secret_fields[secrets.IOTCENTRAL_TOKEN]
    assert token_field.text() == ""  # never read back
    assert token_field.placeholderText() == "stored — type to replace"
    assert again.fields["iotcentral.subdomain"].text() == "medicorp-devices"


def test_an_empty_secret_field_keeps_the_stored_secret(qtbot, dialog, memory_keyring):
    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, TOKEN)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.save()
    assert memory_keyring.get_password(secrets.SERVICE, secrets.IOTCENTRAL_TOKEN) == TOKEN


def test_invalid_values_are_explained_at_their_field_and_block_save(qtbot, dialog):
    type_into(dialog, "bench.cn_template", "{model}-{nonsense}")
    assert "unknown field {nonsense}" in dialog.error_text("bench.cn_template")
    assert not dialog.save_button.isEnabled()
    type_into(dialog, "bench.cn_template", "{model}-{serial}")
    assert dialog.error_text("bench.cn_template") == ""
    assert dialog.save_button.isEnabled()
    assert dialog.cn_preview.text() == "Example: mx200-sn00012345"

    type_into(dialog, "iotcentral.subdomain", "Not A Subdomain!")
    assert "lower-case letters" in dialog.error_text("iotcentral.subdomain")
    type_into(dialog, "iotcentral.subdomain", "")
    type_into(dialog, "iotcentral.base_url", "http://plain.example")
    assert "https://" in dialog.error_text("iotcentral.base_url")
    type_into(dialog, "iotcentral.base_url", "")

    dialog.registry_postgres.setChecked(True)
    dialog.validate()
    assert "empty" in dialog.error_text("registry.url")
    type_into(dialog, "registry.url", "postgresql+psycopg://certbench:hunter2@db/certbench")
    assert "password" in dialog.error_text("registry.url")
    type_into(dialog, "registry.url", "postgresql+psycopg://certbench@db/certbench")
    assert dialog.error_text("registry.url") == ""
    assert dialog.save_button.isEnabled()


def test_table_problems_are_shown_under_the_table_with_the_row_selected(qtbot, dialog):
    table = dialog.intermediates.table
    source: QComboBox = table.cellWidget(2, 2)
    source.setCurrentIndex(source.findText("sectigo"))
    dialog.validate()
    text = dialog.error_text("intermediates")
    assert "intermediates[2]" in text and "profile_id" in text
    assert {i.row() for i in table.selectedIndexes()} == {2}
    assert not dialog.save_button.isEnabled()
    table.item(2, 3).setText("many")
    dialog.validate()
    assert "intermediates[2].profile_id" in dialog.error_text("intermediates")
    assert "whole number" in dialog.error_text("intermediates")
    source.setCurrentIndex(source.findText("local"))
    table.item(2, 3).setText("0")
    dialog.validate()
    assert dialog.error_text("intermediates") == ""

    dialog.products.table.item(1, 2).setText("no-such-ca")
    dialog.validate()
    assert "products[1].intermediate" in dialog.error_text("products")
    dialog.products.table.item(1, 2).setText("medicorp-ica-2")
    dialog.products.table.item(0, 0).setText("MX300")
    dialog.validate()
    assert "appears twice" in dialog.error_text("products")


def test_rows_can_be_added_and_removed_and_are_saved(qtbot, dialog):
    dialog.products.table.selectRow(3)
    dialog.products._remove()
    dialog.intermediates._add()
    row = dialog.intermediates.table.rowCount() - 1
    dialog.intermediates.table.item(row, 0).setText("spare-ca")
    dialog.validate()
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.save()
    loaded = load_settings()
    assert [p.model for p in loaded.products] == ["mx200", "mx300", "vx10"]
    assert loaded.intermediates[-1].name == "spare-ca"


def test_problem_key_reads_the_key_from_config_errors():
    assert problem_key(ConfigError("Setting 'products[2].key_source' is 'x'")) == "products[2].key_source"
    assert problem_key(ConfigError("Intermediate name 'a' appears twice.")) == "intermediates"
    assert problem_key(ConfigError("GTIN 1 belongs to both 'a' and 'b'.")) == "products"
    assert problem_key(ConfigError("Something else.")) is None


def test_registry_test_connection_opens_the_database(qtbot, dialog):
    dialog.test_connection("registry")
    result = dialog.test_results["registry"]
    qtbot.waitUntil(lambda: result.state != "pending", timeout=20_000)
    assert result.state == "ok", result.text()
    assert "sqlite" in result.text() and "0 unit(s)" in result.text()


def test_iotcentral_test_connection_against_the_emulator(qtbot):
    from certbench.core.emulators.iotcentral import run_emulator

    with run_emulator() as emu:
        settings = default_settings()
        settings.iotcentral = dataclasses.replace(settings.iotcentral, ca_file=str(emu.ca_file))
        dialog = SettingsDialog(settings)
        qtbot.addWidget(dialog)
        type_into(dialog, "iotcentral.base_url", emu.base_url)
        result = dialog.test_results["iotcentral"]

        dialog.secret_fields[secrets.IOTCENTRAL_TOKEN].setText("SharedAccessSignature sr=x&sig=wrong&skn=a&se=1")
        dialog.test_connection("iotcentral")
        qtbot.waitUntil(lambda: result.state != "pending", timeout=20_000)
        assert result.state == "fail"
        # What went wrong and what to do are both on screen (not only in a tooltip); no token.
        message, hint = result.text().split("\n", 1)
        assert "token" in message.lower() and hint.strip()
        assert "sig=wrong" not in result.text()

        dialog.secret_fields[secrets.IOTCENTRAL_TOKEN].setText(emu.token)
        dialog.test_connection("iotcentral")
        qtbot.waitUntil(lambda: result.state != "pending", timeout=20_000)
        assert result.state == "ok", result.text()
        assert "enrollment group" in result.text()
        settle(qtbot)


def test_sectigo_test_connection_against_the_emulator(qtbot, tmp_path):
    from certbench.core.emulators.httpserver import EmulatorServer
    from certbench.core.emulators.sectigo import SectigoEmulator
    from certbench.core.emulators.tls import EmulatorCA

    tls = EmulatorCA("Sectigo emulator TLS CA")
    ca_file = tls.write_pem(tmp_path / "emulator-ca.pem")
    app = SectigoEmulator(ca_directory=tmp_path / "emulator-ca")
    try:
        with EmulatorServer(app, tls=tls) as server:
            settings = default_settings()
            settings.sectigo = dataclasses.replace(settings.sectigo, ca_file=str(ca_file))
            dialog = SettingsDialog(settings)
            qtbot.addWidget(dialog)
            type_into(dialog, "sectigo.base_url", server.base_url)
            type_into(dialog, "sectigo.customer_uri", app.customer_uri)
            type_into(dialog, "sectigo.login", app.login)
            result = dialog.test_results["sectigo"]

            dialog.secret_fields[secrets.SECTIGO_PASSWORD].setText("not-the-password")
            dialog.test_connection("sectigo")
            qtbot.waitUntil(lambda: result.state != "pending", timeout=20_000)
            assert result.state == "fail"

            dialog.secret_fields[secrets.SECTIGO_PASSWORD].setText(app.password)
            dialog.test_connection("sectigo")
            qtbot.waitUntil(lambda: result.state != "pending", timeout=20_000)
            assert result.state == "ok", result.text()
            assert "profile" in result.text()
            settle(qtbot)
    finally:
        app.close()


def test_sectigo_modes_show_the_fields_each_needs(qtbot, dialog):
    mode = dialog.fields["sectigo.auth"]
    pages = dialog.sectigo_modes
    mode.setCurrentIndex(mode.findData("password"))
    assert pages.currentWidget().isAncestorOf(dialog.secret_fields[secrets.SECTIGO_PASSWORD])
    mode.setCurrentIndex(mode.findData("client-cert"))
    assert pages.currentWidget().isAncestorOf(dialog.fields["sectigo.client_cert_file"])
    assert pages.currentWidget().isAncestorOf(dialog.secret_fields[secrets.SECTIGO_CLIENT_CERT_PASSPHRASE])
    mode.setCurrentIndex(mode.findData("oauth2"))
    assert pages.currentWidget().isAncestorOf(dialog.fields["sectigo.oauth_client_id"])
    assert pages.currentWidget().isAncestorOf(dialog.secret_fields[secrets.SECTIGO_OAUTH_SECRET])
