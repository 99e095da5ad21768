"""Settings: IoT Central, Sectigo, products and intermediates, registry, bench (with the
scanner and the instrument ports).

The dialog edits a copy of the loaded `Settings` (keys it does not show, such as timeouts or
the DPS host, are kept as they were). Every edit re-checks the whole copy with the same
checks `load_settings` applies (`config.parse_settings`), and the problem is shown next to
the field it names; Save stays disabled while anything is invalid. Secrets are never read
into the dialog: a secret field only says whether a value is stored, and a typed value
replaces it in the OS keyring on Save. Keyring access, saving and "Test connection" all run
on the task runner.
"""

from __future__ import annotations

import copy
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from certbench.core import secrets
from certbench.core.config import (
    USUAL_BAUD_RATES,
    Intermediate,
    Product,
    Settings,
    parse_settings,
    save_settings,
    user_config_file,
)
from certbench.core.errors import CertbenchError, ConfigError
from certbench.core.registry.db import REGISTRY_PASSWORD
from certbench.gui.tasks import Task
from certbench.gui.widgets.banner import Banner
from certbench.gui.widgets.secret_field import SecretField
from certbench.gui.widgets.status import StatusLabel

_KEY_IN_MESSAGE = re.compile(r"Setting '([^']+)'")
_ROW_KEY = re.compile(r"^(intermediates|products)\[(\d+)\](?:\.(\w+))?$")
# Fields holding a list, edited as comma-separated text.
LIST_FIELDS = ("bench.instrument_ports", "bench.instrument_usb_ids")
KEY_ALGORITHMS = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")
SECRET_NAMES = (
    secrets.IOTCENTRAL_TOKEN,
    secrets.SECTIGO_PASSWORD,
    secrets.SECTIGO_CLIENT_CERT_PASSPHRASE,
    secrets.SECTIGO_OAUTH_SECRET,
    REGISTRY_PASSWORD,
)


def problem_key(error: ConfigError) -> str | None:
    """The settings key a ConfigError is about (`products[2].key_algorithm`), when it says."""
    match = _KEY_IN_MESSAGE.search(error.message)
    if match:
        return match.group(1)
    text = error.message
    if text.startswith("Intermediate name"):
        return "intermediates"
    if text.startswith(("Product model", "GTIN")):
        return "products"
    return None


def _error_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(f"error_{name}")
    label.setStyleSheet("color: #c62828;")
    label.setWordWrap(True)
    label.hide()
    return label


@dataclass
class _Column:
    attr: str
    title: str
    kind: str = "text"  # text | int | list | choice
    choices: tuple[str, ...] = ()


class _ItemTable(QWidget):
    """An editable table of dataclass rows (products or intermediates) with add/remove."""

    changed = Signal()

    def __init__(self, key: str, columns: list[_Column], make_row: Callable[[], object], parent: QWidget | None = None):
        super().__init__(parent)
        self.key = key
        self.columns = columns
        self.make_row = make_row
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(columns))
        self.table.setObjectName(f"table_{key}")
        self.table.setHorizontalHeaderLabels([c.title for c in columns])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.add_button = QPushButton(self.tr("Add"))
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton(self.tr("Remove selected"))
        self.remove_button.clicked.connect(self._remove)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.error = _error_label(key)
        layout.addWidget(self.error)

    def set_rows(self, rows: list[object]) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for row in rows:
            self._append(row)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()

    def _append(self, row: object) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, column in enumerate(self.columns):
            value = getattr(row, column.attr)
            if column.kind == "choice":
                combo = QComboBox()
                combo.addItems(list(column.choices) if "" not in column.choices else
                               [c or self.tr("(none)") for c in column.choices])
                index = column.choices.index(value) if value in column.choices else -1
                if index < 0:
                    combo.addItem(str(value))
                    index = combo.count() - 1
                combo.setCurrentIndex(index)
                combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
                self.table.setCellWidget(r, c, combo)
            else:
                text = ", ".join(value) if column.kind == "list" else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))

    def _add(self) -> None:
        self._append(self.make_row())
        self.table.setCurrentCell(self.table.rowCount() - 1, 0)
        self.changed.emit()

    def _remove(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.table.removeRow(r)
        if rows:
            self.changed.emit()

    def values(self) -> list[dict[str, object]]:
        """Rows as plain dicts; a cell that is not a number where one is needed raises
        ConfigError naming `key[row].attr`."""
        out = []
        for r in range(self.table.rowCount()):
            data: dict[str, object] = {}
            for c, column in enumerate(self.columns):
                if column.kind == "choice":
                    combo = self.table.cellWidget(r, c)
                    index = combo.currentIndex()
                    data[column.attr] = column.choices[index] if index < len(column.choices) else combo.currentText()
                    continue
                item = self.table.item(r, c)
                text = item.text().strip() if item else ""
                if column.kind == "int":
                    try:
                        data[column.attr] = int(text or "0")
                    except ValueError:
                        raise ConfigError(
                            f"Setting '{self.key}[{r}].{column.attr}' must be a whole number, not '{text}'."
                        ) from None
                elif column.kind == "list":
                    data[column.attr] = [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]
                else:
                    data[column.attr] = text
            out.append(data)
        return out

    def show_error(self, text: str, row: int | None) -> None:
        self.error.setText(text)
        self.error.show()
        if row is not None and 0 <= row < self.table.rowCount():
            self.table.selectRow(row)

    def clear_error(self) -> None:
        self.error.hide()


class SettingsDialog(QDialog):
    """Emits `saved(Settings)` after the settings file and the secrets were written."""

    saved = Signal(object)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        problem: ConfigError | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Certbench settings"))
        self.original = settings
        self.fields: dict[str, QWidget] = {}
        self.detect_task: Task | None = None
        self.errors: dict[str, QLabel] = {}
        self.secret_fields: dict[str, SecretField] = {}
        self.test_results: dict[str, StatusLabel] = {}
        self.test_buttons: dict[str, QPushButton] = {}
        self.tasks: list[Task] = []
        self.current_problem: ConfigError | None = None
        self.problem = problem

        layout = QVBoxLayout(self)
        if problem is not None:
            self.problem_banner = Banner(
                "error",
                self.tr("The settings file has a problem: {message} Correct it here and Save; "
                        "the file will be rewritten.").format(message=problem.message),
            )
            layout.addWidget(self.problem_banner)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._iotcentral_tab(), self.tr("IoT Central"))
        self.tabs.addTab(self._sectigo_tab(), self.tr("Sectigo"))
        self.tabs.addTab(self._catalogue_tab(), self.tr("Products and intermediates"))
        self.tabs.addTab(self._registry_tab(), self.tr("Registry"))
        self.tabs.addTab(self._bench_tab(), self.tr("Bench"))
        self.general_error = _error_label("general")
        layout.addWidget(self.general_error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self._load(settings)
        self._revalidate = QTimer(self)
        self._revalidate.setSingleShot(True)
        self._revalidate.setInterval(200)
        self._revalidate.timeout.connect(self.validate)
        self._connect_changes()
        self.validate()
        self._read_secret_presence()
        self.resize(900, 620)

    # -- building the tabs ---------------------------------------------------------------------
    def _line(self, key: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"field_{key}")
        if placeholder:
            edit.setPlaceholderText(placeholder)
        self.fields[key] = edit
        return edit

    def _combo(self, key: str, choices: tuple[str, ...], labels: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(f"field_{key}")
        for value, label in zip(choices, labels, strict=True):
            combo.addItem(label, value)
        self.fields[key] = combo
        return combo

    def _secret(self, name: str) -> SecretField:
        field = SecretField(name)
        field.setObjectName(f"secret_{name}")
        self.secret_fields[name] = field
        return field

    def _row(self, form: QFormLayout, label: str, key: str, widget: QWidget, help_text: str = "",
             extra: QWidget | None = None) -> None:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        if extra is not None:
            column.addWidget(extra)
        if help_text:
            note = QLabel(help_text)
            note.setWordWrap(True)
            note.setStyleSheet("color: palette(mid);")
            column.addWidget(note)
        error = _error_label(key)
        self.errors[key] = error
        column.addWidget(error)
        form.addRow(label, box)

    def _test_row(self, form: QFormLayout, service: str) -> None:
        """Below the form (`_form`'s column, before its stretch), the answer under the button,
        the full width: a failure's reason and hint are sentences. Not a form row: QFormLayout
        gives a word-wrapped label the height of its narrowest layout, not of its width."""
        row = QWidget()
        column = QVBoxLayout(row)
        column.setContentsMargins(0, 8, 0, 0)
        button = QPushButton(self.tr("Test connection"))
        button.setObjectName(f"test_{service}")
        button.clicked.connect(lambda: self.test_connection(service))
        result = StatusLabel("pending", self.tr("not tested"))
        result.setObjectName(f"testResult_{service}")
        result.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(result)
        self.test_buttons[service] = button
        self.test_results[service] = result
        page_column = form.parent()
        page_column.insertWidget(page_column.count() - 1, row)

    @staticmethod
    def _form(page: QWidget) -> QFormLayout:
        """A form at the top of its page: spare height goes below it, not between rows."""
        outer = QVBoxLayout(page)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)
        return form

    def _iotcentral_tab(self) -> QWidget:
        page = QWidget()
        form = self._form(page)
        self._row(form, self.tr("Application subdomain:"), "iotcentral.subdomain",
                  self._line("iotcentral.subdomain", "medicorp-devices"),
                  self.tr("The part before .azureiotcentral.com in the application's address."))
        self._row(form, self.tr("DNS suffix:"), "iotcentral.dns_suffix", self._line("iotcentral.dns_suffix"))
        self._row(form, self.tr("Base URL (overrides both):"), "iotcentral.base_url",
                  self._line("iotcentral.base_url", "https://…"),
                  self.tr("Leave empty unless told otherwise (emulator, sovereign cloud)."))
        self._row(form, self.tr("Authentication:"), "iotcentral.auth",
                  self._combo("iotcentral.auth", ("api-token", "bearer"),
                              (self.tr("API token (SharedAccessSignature)"), self.tr("Azure AD bearer token"))))
        self._row(form, self.tr("Token:"), secrets.IOTCENTRAL_TOKEN, self._secret(secrets.IOTCENTRAL_TOKEN),
                  self.tr("Kept in the OS keyring, never in the settings file."))
        self._test_row(form, "iotcentral")
        return page

    def _sectigo_tab(self) -> QWidget:
        page = QWidget()
        form = self._form(page)
        self._row(form, self.tr("Base URL:"), "sectigo.base_url", self._line("sectigo.base_url", "https://cert-manager.com"))
        self._row(form, self.tr("customerUri:"), "sectigo.customer_uri", self._line("sectigo.customer_uri"))
        self._row(form, self.tr("Login:"), "sectigo.login", self._line("sectigo.login"))
        mode = self._combo("sectigo.auth", ("password", "client-cert", "oauth2"),
                           (self.tr("Password"), self.tr("Client certificate"), self.tr("OAuth2 client credentials")))
        self._row(form, self.tr("Sign-in:"), "sectigo.auth", mode)
        self.sectigo_modes = QStackedWidget()
        self.sectigo_modes.setObjectName("sectigoModes")
        self.sectigo_modes.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        password_page = QWidget()
        password_form = QFormLayout(password_page)
        password_form.setContentsMargins(0, 0, 0, 0)
        self._row(password_form, self.tr("Password:"), secrets.SECTIGO_PASSWORD, self._secret(secrets.SECTIGO_PASSWORD))
        self.sectigo_modes.addWidget(password_page)

        cert_page = QWidget()
        cert_form = QFormLayout(cert_page)
        cert_form.setContentsMargins(0, 0, 0, 0)
        file_row = QWidget()
        file_line = QHBoxLayout(file_row)
        file_line.setContentsMargins(0, 0, 0, 0)
        file_line.addWidget(self._line("sectigo.client_cert_file", self.tr("PKCS#12 (.p12/.pfx) or PEM file")), 1)
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse_client_cert)
        file_line.addWidget(browse)
        self._row(cert_form, self.tr("Client certificate file:"), "sectigo.client_cert_file", file_row)
        self._row(cert_form, self.tr("Passphrase:"), secrets.SECTIGO_CLIENT_CERT_PASSPHRASE,
                  self._secret(secrets.SECTIGO_CLIENT_CERT_PASSPHRASE))
        self.sectigo_modes.addWidget(cert_page)

        oauth_page = QWidget()
        oauth_form = QFormLayout(oauth_page)
        oauth_form.setContentsMargins(0, 0, 0, 0)
        self._row(oauth_form, self.tr("Token URL:"), "sectigo.oauth_token_url", self._line("sectigo.oauth_token_url"))
        self._row(oauth_form, self.tr("Client id:"), "sectigo.oauth_client_id", self._line("sectigo.oauth_client_id"))
        self._row(oauth_form, self.tr("Client secret:"), secrets.SECTIGO_OAUTH_SECRET,
                  self._secret(secrets.SECTIGO_OAUTH_SECRET))
        self.sectigo_modes.addWidget(oauth_page)

        form.addRow("", self.sectigo_modes)
        mode.currentIndexChanged.connect(self.sectigo_modes.setCurrentIndex)
        self._test_row(form, "sectigo")
        return page

    def _catalogue_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel(self.tr("<b>Intermediate CAs</b>")))
        self.intermediates = _ItemTable(
            "intermediates",
            [
                _Column("name", self.tr("Name")),
                _Column("display_name", self.tr("Display name")),
                _Column("source", self.tr("Source"), "choice", ("local", "sectigo", "file")),
                _Column("profile_id", self.tr("Profile id"), "int"),
                _Column("org_id", self.tr("Org id"), "int"),
                _Column("term_days", self.tr("Term (days)"), "int"),
                _Column("certificate_file", self.tr("Certificate file")),
                _Column("group", self.tr("IoT Central group")),
                _Column("entry", self.tr("Entry"), "choice", ("", "primary", "secondary")),
            ],
            lambda: Intermediate(name=""),
        )
        layout.addWidget(self.intermediates, 1)
        layout.addWidget(QLabel(self.tr("<b>Products</b>")))
        self.products = _ItemTable(
            "products",
            [
                _Column("model", self.tr("Model")),
                _Column("display_name", self.tr("Display name")),
                _Column("intermediate", self.tr("Intermediate")),
                _Column("gtins", self.tr("GTINs"), "list"),
                _Column("key_algorithm", self.tr("Key"), "choice", KEY_ALGORITHMS),
                _Column("key_source", self.tr("Key made on"), "choice", ("device", "workstation")),
                _Column("iotcentral_template", self.tr("IoT Central template")),
            ],
            lambda: Product(model="", intermediate=""),
        )
        layout.addWidget(self.products, 1)
        return page

    def _registry_tab(self) -> QWidget:
        page = QWidget()
        form = self._form(page)
        choice = QWidget()
        column = QVBoxLayout(choice)
        column.setContentsMargins(0, 0, 0, 0)
        self.registry_sqlite = QRadioButton(self.tr("SQLite file on this workstation (one bench)"))
        self.registry_sqlite.setObjectName("registrySqlite")
        self.registry_postgres = QRadioButton(self.tr("PostgreSQL server (several benches share it)"))
        self.registry_postgres.setObjectName("registryPostgres")
        group = QButtonGroup(self)
        group.addButton(self.registry_sqlite)
        group.addButton(self.registry_postgres)
        column.addWidget(self.registry_sqlite)
        column.addWidget(self.registry_postgres)
        form.addRow(self.tr("Database:"), choice)
        self._row(form, self.tr("PostgreSQL URL:"), "registry.url",
                  self._line("registry.url", "postgresql+psycopg://certbench@dbhost/certbench"),
                  self.tr("Without the password: it goes in the field below."))
        self._row(form, self.tr("Database password:"), REGISTRY_PASSWORD, self._secret(REGISTRY_PASSWORD))
        self.registry_postgres.toggled.connect(self._registry_mode)
        self._test_row(form, "registry")
        return page

    def _bench_tab(self) -> QWidget:
        page = QWidget()
        form = self._form(page)
        self._row(form, self.tr("Workstation name:"), "bench.workstation", self._line("bench.workstation"),
                  self.tr("Recorded with every unit and audit event."))
        self.cn_preview = QLabel()
        self.cn_preview.setObjectName("cnPreview")
        self._row(form, self.tr("Device id (CN) template:"), "bench.cn_template", self._line("bench.cn_template"),
                  extra=self.cn_preview)
        check = QCheckBox(self.tr("Check each unit's registration through DPS"))
        check.setObjectName("field_bench.check_registration")
        self.fields["bench.check_registration"] = check
        form.addRow("", check)
        self._row(form, self.tr("Scanner prefix:"), "bench.scanner_prefix", self._line("bench.scanner_prefix"),
                  self.tr("Characters the barcode scanner sends before each scan (often none)."))
        self._row(form, self.tr("Scanner suffix:"), "bench.scanner_suffix", self._line("bench.scanner_suffix"),
                  self.tr("Characters it sends after each scan; empty means Enter."))
        self._row(form, self.tr("Scanner serial port:"), "bench.scanner_port", self._line("bench.scanner_port", "COM5"),
                  self.tr("Only for scanners attached as a COM port; leave empty for keyboard scanners."))
        page_column = form.parent()
        page_column.insertWidget(page_column.count() - 1, self._ports_group())
        return page

    def _ports_group(self) -> QGroupBox:
        box = QGroupBox(self.tr("Ports"))
        box.setObjectName("portsGroup")
        form = QFormLayout(box)
        line = QWidget()
        row = QHBoxLayout(line)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._line("bench.instrument_ports", self.tr("every serial port of this PC")), 1)
        self.detect_button = QPushButton(self.tr("Detect"))
        self.detect_button.setObjectName("detectPorts")
        self.detect_button.setToolTip(self.tr("List the serial ports of this PC"))
        self.detect_button.clicked.connect(self.detect_ports)
        row.addWidget(self.detect_button)
        detected = QWidget()
        column = QVBoxLayout(detected)
        column.setContentsMargins(0, 0, 0, 0)
        self.detect_status = StatusLabel("pending", "")
        self.detect_status.setObjectName("detectStatus")
        self.detect_status.hide()
        self.detected_ports = QListWidget()
        self.detected_ports.setObjectName("detectedPorts")
        self.detected_ports.setMaximumHeight(90)
        self.detected_ports.hide()
        self.detected_ports.itemActivated.connect(self._add_detected_port)
        column.addWidget(self.detect_status)
        column.addWidget(self.detected_ports)
        self._row(form, self.tr("Instrument ports:"), "bench.instrument_ports", line,
                  self.tr("Where to look for instruments, separated by commas: COM3, COM4 or a network serial "
                          "port such as socket://10.0.0.5:4001. Empty: every serial port of this PC."),
                  extra=detected)
        self._row(form, self.tr("USB adapter ids:"), "bench.instrument_usb_ids",
                  self._line("bench.instrument_usb_ids", "0403:6001"),
                  self.tr("When no ports are listed: look only on USB adapters with these vendor:product ids "
                          "(Device Manager's VID_0403&PID_6001 is 0403:6001). Empty: every adapter."))
        self._row(form, self.tr("Line speed (baud):"), "bench.instrument_baud",
                  self._combo("bench.instrument_baud", USUAL_BAUD_RATES, tuple(str(r) for r in USUAL_BAUD_RATES)),
                  self.tr("The rate the instruments are set to (usually 115200)."))
        return box

    def detect_ports(self) -> None:
        """List the serial ports of this PC (on the task runner: enumerating USB can take a while)."""
        from certbench.core.instrument.ports import list_ports

        if self.detect_task is not None:
            return
        self.detect_button.setEnabled(False)
        self.detect_status.set_state("pending", self.tr("Looking for serial ports…"))
        self.detect_status.show()

        def finished() -> None:
            self.detect_task = None
            self.detect_button.setEnabled(True)

        self.detect_task = (
            Task(self, lambda _ctl: list_ports(), name="detect-ports")
            .on_success(self._ports_detected)
            .on_failure(lambda exc: self.detect_status.set_state("fail", self.tr(
                "Could not list the serial ports: {reason}").format(reason=self._failure_text(exc))))
            .on_finished(finished)
            .start()
        )
        self.tasks.append(self.detect_task)

    def _ports_detected(self, ports: list) -> None:
        self.detected_ports.clear()
        for port in ports:
            details = [port.description] if port.description and port.description != "n/a" else []
            if port.usb_id:
                details.append(port.usb_id)
            text = port.device + (f" — {', '.join(details)}" if details else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, port.device)
            self.detected_ports.addItem(item)
        self.detected_ports.setVisible(bool(ports))
        if len(ports) == 1:
            self.detect_status.set_state("ok", self.tr("One serial port on this PC; double-click it to add it to the list."))
        elif ports:
            self.detect_status.set_state("ok", self.tr(
                "{count} serial ports on this PC; double-click one to add it to the list.").format(count=len(ports)))
        else:
            self.detect_status.set_state("warning", self.tr(
                "No serial ports on this PC. Plug in the instrument's USB cable and press Detect again."))

    def detected(self) -> list[str]:
        """The ports the last Detect listed (for tests)."""
        return [self.detected_ports.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.detected_ports.count())]

    def _add_detected_port(self, item: QListWidgetItem) -> None:
        edit = self.fields["bench.instrument_ports"]
        ports = [p.strip() for p in edit.text().split(",") if p.strip()]
        device = item.data(Qt.ItemDataRole.UserRole)
        if device not in ports:
            edit.setText(", ".join([*ports, device]))

    # -- values in and out ---------------------------------------------------------------------
    def _load(self, settings: Settings) -> None:
        for key, widget in self.fields.items():
            section, attr = key.split(".")
            value = getattr(getattr(settings, section), attr)
            if isinstance(widget, QComboBox):
                widget.setCurrentIndex(max(widget.findData(value), 0))
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif key in LIST_FIELDS:
                widget.setText(", ".join(value))
            else:
                widget.setText(str(value))
        self.sectigo_modes.setCurrentIndex(self.fields["sectigo.auth"].currentIndex())
        self.intermediates.set_rows(settings.intermediates)
        self.products.set_rows(settings.products)
        postgres = bool(settings.registry.url)
        self.registry_postgres.setChecked(postgres)
        self.registry_sqlite.setChecked(not postgres)
        self._registry_mode(postgres)

    def _registry_mode(self, postgres: bool) -> None:
        self.fields["registry.url"].setEnabled(postgres)
        self.secret_fields[REGISTRY_PASSWORD].setEnabled(postgres)

    def _connect_changes(self) -> None:
        for widget in self.fields.values():
            if isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(self._revalidate.start)
            elif isinstance(widget, QCheckBox):
                widget.toggled.connect(self._revalidate.start)
            else:
                widget.textChanged.connect(self._revalidate.start)
        self.intermediates.changed.connect(self._revalidate.start)
        self.products.changed.connect(self._revalidate.start)
        self.registry_postgres.toggled.connect(self._revalidate.start)

    def collect(self) -> Settings:
        """The settings as edited, checked like a loaded file; ConfigError names the key."""
        data = copy.deepcopy(self.original.to_dict())
        for key, widget in self.fields.items():
            section, attr = key.split(".")
            if isinstance(widget, QComboBox):
                value = widget.currentData()
            elif isinstance(widget, QCheckBox):
                value = widget.isChecked()
            elif key in LIST_FIELDS:
                value = [item.strip() for item in widget.text().split(",") if item.strip()]
            else:
                value = widget.text().strip()
            data[section][attr] = value
        if not self.registry_postgres.isChecked():
            data["registry"]["url"] = ""
        data["intermediates"] = self.intermediates.values()
        data["products"] = self.products.values()
        self._check_fields(data)
        return parse_settings(data, list(self.original.sources))

    def _check_fields(self, data: dict) -> None:
        """What parse_settings does not check but a person should hear about before saving."""
        iotc = data["iotcentral"]
        if iotc["subdomain"] and not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", iotc["subdomain"]):
            raise ConfigError("Setting 'iotcentral.subdomain' may hold only lower-case letters, digits and '-'.",
                              "Copy it from the application's address, without https:// and the suffix.")
        if iotc["base_url"] and not iotc["base_url"].startswith("https://"):
            raise ConfigError("Setting 'iotcentral.base_url' must start with https://.")
        for key in ("sectigo.base_url", "sectigo.oauth_token_url"):
            section, attr = key.split(".")
            if data[section][attr] and not data[section][attr].startswith("https://"):
                raise ConfigError(f"Setting '{key}' must start with https://.")
        if not data["sectigo"]["base_url"]:
            raise ConfigError("Setting 'sectigo.base_url' is empty.", "The usual value is https://cert-manager.com.")
        if self.registry_postgres.isChecked():
            url = data["registry"]["url"]
            if not url:
                raise ConfigError("Setting 'registry.url' is empty.", "Type the PostgreSQL URL, or choose SQLite.")
            if not re.match(r"postgres(ql)?(\+psycopg)?://", url):
                raise ConfigError("Setting 'registry.url' is not a PostgreSQL URL.",
                                  "Write it as postgresql+psycopg://user@host/database.")
            if re.match(r"[^:]+://[^/@]*:[^/@]*@", url):
                raise ConfigError("Setting 'registry.url' contains a password.",
                                  "Remove it from the URL and type it in the Database password field.")
        if not data["bench"]["workstation"]:
            raise ConfigError("Setting 'bench.workstation' is empty.", "Give this workstation a name.")

    def validate(self) -> bool:
        for label in self.errors.values():
            label.hide()
        self.intermediates.clear_error()
        self.products.clear_error()
        self.general_error.hide()
        try:
            settings = self.collect()
        except ConfigError as exc:
            self.current_problem = exc
            self._show_problem(exc)
            self.save_button.setEnabled(False)
            self.cn_preview.setText("")
            self.cn_preview.hide()
            return False
        self.current_problem = None
        self.save_button.setEnabled(True)
        product = settings.products[0].model if settings.products else "mx200"
        try:
            example = settings.cn_template().render(model=product, serial="SN00012345")
            self.cn_preview.setText(self.tr("Example: {cn}").format(cn=example))
            self.cn_preview.show()
        except CertbenchError as exc:
            self.cn_preview.hide()
            self._show_at("bench.cn_template", exc)
            self.save_button.setEnabled(False)
            return False
        return True

    def _show_problem(self, exc: ConfigError) -> None:
        key = problem_key(exc)
        if key:
            self._show_at(key, exc)
        else:
            self._show_general(exc)

    def _show_at(self, key: str, exc: CertbenchError) -> None:
        text = exc.message + (f" {exc.hint}" if exc.hint else "")
        row_key = _ROW_KEY.match(key)
        if key in ("intermediates", "products") or row_key:
            table_name = row_key.group(1) if row_key else key
            table = self.intermediates if table_name == "intermediates" else self.products
            table.show_error(text, int(row_key.group(2)) if row_key else None)
            return
        label = self.errors.get(key)
        if label is None:
            self._show_general(exc)
            return
        # Next to its field the key name is noise: "Setting 'bench.cn_template': The CN..." -> "The CN..."
        text = re.sub(r"^Setting '[^']+'(?:: | )", "", text)
        label.setText(text[:1].upper() + text[1:])
        label.show()

    def _show_general(self, exc: CertbenchError) -> None:
        self.general_error.setText(exc.message + (f" {exc.hint}" if exc.hint else ""))
        self.general_error.show()

    def error_text(self, key: str) -> str:
        """The problem shown next to `key` ("" when none): for tests and screenshots."""
        if key in ("intermediates", "products"):
            table = self.intermediates if key == "intermediates" else self.products
            return table.error.text() if not table.error.isHidden() else ""
        label = self.errors.get(key)
        return label.text() if label is not None and not label.isHidden() else ""

    # -- secrets, saving, testing ----------------------------------------------------------------
    def _read_secret_presence(self) -> None:
        def presence(_ctl) -> dict[str, bool]:
            return {name: bool(secrets.get_secret(name)) for name in SECRET_NAMES}

        self.tasks.append(
            Task(self, presence, name="read-secret-presence")
            .on_success(self._secret_presence)
            .on_failure(lambda exc: self._show_general(exc if isinstance(exc, CertbenchError)
                                                       else CertbenchError(str(exc))))
            .start()
        )

    def _secret_presence(self, presence: dict[str, bool]) -> None:
        for name, stored in presence.items():
            self.secret_fields[name].set_stored(stored)

    def new_secrets(self) -> dict[str, str]:
        return {name: field.new_value() for name, field in self.secret_fields.items() if field.new_value()}

    def save(self) -> None:
        if not self.validate():
            return
        settings = self.collect()
        new_secrets = self.new_secrets()
        self.save_button.setEnabled(False)

        broken_file = self.problem is not None

        def write(_ctl) -> Settings:
            for name, value in new_secrets.items():
                secrets.set_secret(name, value)
            target = user_config_file()
            if broken_file and target.is_file():
                # The file that failed to load is kept for the administrator to compare.
                shutil.copy2(target, target.with_name(target.name + ".broken"))
            save_settings(settings, target)
            return settings

        self.tasks.append(
            Task(self, write, name="save-settings")
            .on_success(self._saved)
            .on_failure(self._save_failed)
            .start()
        )

    def _saved(self, settings: Settings) -> None:
        for field in self.secret_fields.values():
            if field.text():
                field.clear()
                field.set_stored(True)
        self.saved.emit(settings)
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        error = exc if isinstance(exc, CertbenchError) else CertbenchError(
            self.tr("The settings could not be saved: {error}").format(error=exc))
        if isinstance(error, ConfigError):
            self._show_problem(error)
        else:
            self._show_general(error)

    def test_connection(self, service: str) -> None:
        from certbench.core import connection_checks

        try:
            settings = self.collect()
        except ConfigError as exc:
            self.test_results[service].set_state("fail", self.tr("Correct the settings first: {message}").format(
                message=exc.message))
            return
        typed = {name: field.new_value() for name, field in self.secret_fields.items()}
        if service == "iotcentral":
            def call(_ctl):
                return connection_checks.check_iotcentral(settings.iotcentral, typed[secrets.IOTCENTRAL_TOKEN])
        elif service == "sectigo":
            def call(_ctl):
                return connection_checks.check_sectigo(
                    settings.sectigo,
                    password=typed[secrets.SECTIGO_PASSWORD],
                    client_cert_passphrase=typed[secrets.SECTIGO_CLIENT_CERT_PASSPHRASE],
                    oauth_client_secret=typed[secrets.SECTIGO_OAUTH_SECRET],
                )
        else:
            def call(_ctl):
                if typed[REGISTRY_PASSWORD]:
                    secrets.register_secret_value(typed[REGISTRY_PASSWORD])
                return connection_checks.check_registry(settings.registry)
        button, result = self.test_buttons[service], self.test_results[service]
        button.setEnabled(False)
        result.set_state("pending", self.tr("Testing…"))
        self.tasks.append(
            Task(self, call, name=f"test-{service}")
            .on_success(lambda text: result.set_state("ok", text))
            .on_failure(lambda exc: result.set_state("fail", self._failure_text(exc)))
            .on_finished(lambda: button.setEnabled(True))
            .start()
        )

    @staticmethod
    def _failure_text(exc: BaseException) -> str:
        """What went wrong and, on the next line, what to do: both visible, not in a tooltip."""
        if isinstance(exc, CertbenchError):
            return secrets.redact(exc.message + (f"\n{exc.hint}" if exc.hint else ""))
        return secrets.redact(f"{type(exc).__name__}: {exc}")

    def _browse_client_cert(self) -> None:
        dialog = QFileDialog(self, self.tr("Sectigo client certificate"))
        dialog.setNameFilters([self.tr("Certificates with key (*.p12 *.pfx *.pem)"), self.tr("All files (*)")])
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.fields["sectigo.client_cert_file"].setText)
        dialog.open()

    def focus_key(self, key: str) -> None:
        """Show the tab holding `key` (used when the settings file failed to load)."""
        tab_of = {"iotcentral": 0, "sectigo": 1, "intermediates": 2, "products": 2, "registry": 3, "bench": 4}
        head = re.split(r"[.\[]", key, maxsplit=1)[0]
        if head in tab_of:
            self.tabs.setCurrentIndex(tab_of[head])
        widget = self.fields.get(key)
        if widget is not None:
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
