"""Moving a progress bar without painting it on the spot."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar


def set_progress(bar: QProgressBar, value: int, maximum: int | None = None) -> None:
    """`QProgressBar.setValue` repaints the bar at once (a synchronous paint inside the call)
    whenever its text changes. With updates held off for the call, it is painted with the
    rest of the window on the next pass of the event loop, once however many values arrived
    in between."""
    bar.setUpdatesEnabled(False)
    try:
        if maximum is not None:
            bar.setRange(0, maximum)
        bar.setValue(value)
    finally:
        bar.setUpdatesEnabled(True)  # schedules the ordinary, deferred repaint
