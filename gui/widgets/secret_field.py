"""A password field for a secret that lives in the OS keyring. The stored value is never
read into the widget: the field only says whether one is stored, and whatever is typed
replaces it on save."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget


class SecretField(QLineEdit):
    def __init__(self, secret_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.secret_name = secret_name
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.setClearButtonEnabled(True)
        self.stored: bool | None = None  # unknown until the keyring has been asked (off the GUI thread)
        self.set_stored(None)

    def set_stored(self, stored: bool | None) -> None:
        self.stored = stored
        if stored is None:
            self.setPlaceholderText(self.tr("checking the keyring…"))
        elif stored:
            self.setPlaceholderText(self.tr("stored — type to replace"))
        else:
            self.setPlaceholderText(self.tr("not set — type to store"))

    def new_value(self) -> str | None:
        """What to store on save; None keeps the stored value as it is."""
        return self.text() or None
