"""The administrator role: locked by default, unlocked with the administrator password.

The password is checked (scrypt, deliberately slow) on the task runner, never on the GUI
thread. On a workstation where no administrator password exists yet, unlocking first asks
to set one. In demo mode the password is "demo", and the dialog says so.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from certbench.core import roles
from certbench.core.demo import DEMO_ADMIN_PASSWORD
from certbench.core.errors import CertbenchError
from certbench.gui.resources import pixmap
from certbench.gui.tasks import Task


class Role(QObject):
    """Whether administrator functions are unlocked in this window."""

    changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.admin = False

    def unlock(self) -> None:
        if not self.admin:
            self.admin = True
            self.changed.emit(True)

    def lock(self) -> None:
        if self.admin:
            self.admin = False
            self.changed.emit(False)


def _error_label() -> QLabel:
    label = QLabel()
    label.setObjectName("errorLabel")
    label.setStyleSheet("color: #c62828;")
    label.setWordWrap(True)
    label.hide()
    return label


class UnlockDialog(QDialog):
    """Asks for the administrator password; `unlocked` is emitted when it was right."""

    unlocked = Signal()

    def __init__(self, demo: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unlockDialog")
        self.setWindowTitle(self.tr("Unlock administrator functions"))
        layout = QVBoxLayout(self)
        header = QLabel()
        header.setPixmap(pixmap("lock", 32))
        layout.addWidget(header)
        intro = QLabel(self.tr("Administrator functions (settings, intermediate verification) need the "
                               "administrator password."))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if demo:
            note = QLabel(self.tr("Demo mode: the administrator password is “{password}”.").format(
                password=DEMO_ADMIN_PASSWORD))
            note.setObjectName("demoPasswordNote")
            note.setStyleSheet("color: #bf360c; font-weight: bold;")
            layout.addWidget(note)
        form = QFormLayout()
        self.password = QLineEdit()
        self.password.setObjectName("adminPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("Password:"), self.password)
        layout.addLayout(form)
        self.error = _error_label()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Unlock"))
        self.buttons.accepted.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.task: Task | None = None

    def _check(self) -> None:
        password = self.password.text()
        if not password:
            self._fail(self.tr("Type the administrator password."))
            return
        self.buttons.setEnabled(False)
        self.error.hide()
        self.task = (
            Task(self, lambda _ctl: roles.check_admin_password(password), name="check-admin-password")
            .on_success(self._checked)
            .on_failure(lambda exc: self._fail(exc.message if isinstance(exc, CertbenchError) else str(exc)))
            .on_finished(lambda: self.buttons.setEnabled(True))
            .start()
        )

    def _checked(self, ok: bool) -> None:
        if ok:
            self.unlocked.emit()
            self.accept()
        else:
            self.password.selectAll()
            self._fail(self.tr("That is not the administrator password."))

    def _fail(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


class SetPasswordDialog(QDialog):
    """First-time setup (or a change): choose the administrator password, typed twice."""

    password_set = Signal()

    def __init__(self, first_time: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setPasswordDialog")
        self.setWindowTitle(self.tr("Set the administrator password"))
        layout = QVBoxLayout(self)
        text = (self.tr("No administrator password has been set on this workstation yet. Choose one now: "
                        "it protects the settings and the intermediate verification.")
                if first_time else self.tr("Choose the new administrator password."))
        intro = QLabel(text + " " + self.tr("At least {n} characters.").format(n=roles.MIN_LENGTH))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.password = QLineEdit()
        self.password.setObjectName("newPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setObjectName("repeatPassword")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("New password:"), self.password)
        form.addRow(self.tr("Repeat it:"), self.repeat)
        layout.addLayout(form)
        self.error = _error_label()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.task: Task | None = None

    def _save(self) -> None:
        password = self.password.text()
        if password != self.repeat.text():
            self._fail(self.tr("The two passwords differ. Type the same password twice."))
            return
        self.buttons.setEnabled(False)
        self.task = (
            Task(self, lambda _ctl: roles.set_admin_password(password), name="set-admin-password")
            .on_success(self._saved)
            .on_failure(lambda exc: self._fail(exc.message if isinstance(exc, CertbenchError) else str(exc)))
            .on_finished(lambda: self.buttons.setEnabled(True))
            .start()
        )

    def _saved(self, _result: object) -> None:
        self.password_set.emit()
        self.accept()

    def _fail(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
