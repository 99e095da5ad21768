"""An icon and a sentence: the state of one thing (ok, failed, pending, warning)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from certbench.gui.resources import pixmap


class StatusLabel(QWidget):
    def __init__(self, state: str = "pending", text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon = QLabel()
        layout.addWidget(self.icon)
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout.addWidget(self.label, 1)
        self.state = ""
        self.set_state(state, text)

    def set_state(self, state: str, text: str, tooltip: str = "") -> None:
        self.state = state
        self.icon.setPixmap(pixmap(state, 16))
        self.label.setText(text)
        self.setToolTip(tooltip)

    def text(self) -> str:
        return self.label.text()
