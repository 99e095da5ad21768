"""A checklist of workflow steps that ticks as `ProgressEvent`s arrive: grey while waiting,
an arrow while running, green when done, red with the reason when failed, "skipped" with
why. Shared by the wizards; events come from `Task.on_progress`, so always on the GUI thread."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from certbench.core.workflows.progress import ProgressEvent
from certbench.gui.resources import icon

# status -> (icon, text colour or None for the default)
_LOOK = {
    "pending": ("pending", "#757575"),
    "started": ("refresh", None),
    "done": ("ok", "#2e7d32"),
    "failed": ("fail", "#c62828"),
    "skipped": ("info", "#757575"),
}


class StepList(QListWidget):
    def __init__(self, steps: Sequence[tuple[str, str]] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepList")
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.labels: dict[str, str] = {}
        self.items: dict[str, QListWidgetItem] = {}
        self.states: dict[str, str] = {}
        self.set_steps(steps)

    def set_steps(self, steps: Sequence[tuple[str, str]]) -> None:
        self.clear()
        self.labels, self.items, self.states = {}, {}, {}
        for name, label in steps:
            item = QListWidgetItem(label)
            self.addItem(item)
            self.labels[name], self.items[name] = label, item
            self._show(name, "pending", "")

    def reset(self) -> None:
        for name in self.items:
            self._show(name, "pending", "")

    def _show(self, name: str, status: str, message: str) -> None:
        item = self.items[name]
        icon_name, colour = _LOOK[status]
        item.setIcon(icon(icon_name))
        item.setText(self.labels[name] + (f" — {message}" if message and status != "pending" else ""))
        item.setForeground(QBrush(QColor(colour)) if colour else QBrush())
        font = QFont(item.font())
        font.setBold(status == "started")
        item.setFont(font)
        item.setToolTip(message)
        item.setData(Qt.ItemDataRole.UserRole, status)
        self.states[name] = status

    def apply(self, event: ProgressEvent) -> None:
        """Show one event; events for steps not in the list are ignored."""
        if event.step in self.items:
            self._show(event.step, event.status, event.message)
            self.scrollToItem(self.items[event.step])

    def finished_count(self) -> int:
        return sum(1 for s in self.states.values() if s in ("done", "skipped"))

    def state(self, name: str) -> str:
        return self.states[name]
