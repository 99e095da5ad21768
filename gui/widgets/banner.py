"""Coloured bars across the top of a window: demo mode, invalid settings."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from certbench.gui.resources import pixmap

_STYLES = {
    # Demo must never be mistaken for production: loud orange, bold, full width.
    "demo": "QFrame#banner { background: #ef6c00; border-bottom: 3px solid #bf360c; }"
            " QLabel { color: white; font-weight: bold; }",
    "warning": "QFrame#banner { background: #fff3cd; border: 1px solid #d4a72c; border-radius: 4px; }"
               " QLabel { color: #5c4400; }",
    "error": "QFrame#banner { background: #fdecea; border: 1px solid #c62828; border-radius: 4px; }"
             " QLabel { color: #7f1d1d; }",
}
_ICONS = {"demo": "demo", "warning": "warning", "error": "fail"}


class Banner(QFrame):
    def __init__(self, kind: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName("banner")
        self.setStyleSheet(_STYLES[kind])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        icon = QLabel()
        icon.setPixmap(pixmap(_ICONS[kind], 22))
        layout.addWidget(icon)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setObjectName("bannerText")
        layout.addWidget(self.label, 1)

    def text(self) -> str:
        return self.label.text()

    def set_text(self, text: str) -> None:
        self.label.setText(text)


class DemoBanner(Banner):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            "demo",
            self.tr("DEMO MODE: emulated services and simulated instruments. Nothing here is real, "
                    "and everything is thrown away when Certbench closes."),
            parent,
        )
        self.setObjectName("banner")
        self.setAccessibleName(self.tr("Demo mode"))
