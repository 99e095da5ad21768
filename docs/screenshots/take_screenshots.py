"""Screenshots for the user guide, taken from the real windows rendered offscreen.

    .venv/bin/python docs/screenshots/take_screenshots.py [output-folder]

Runs in demo mode (a throw-away Certbench home and an in-memory keyring), so it never touches
the bench's real settings. Each PNG is `widget.grab()` of a window or dialog as a person sees it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = Path(__file__).resolve().parent


def _wait(app, condition, timeout_s: float = 20.0) -> None:
    """Run the event loop until `condition()` holds (tasks deliver through it)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get ready in time")
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> int:
    from certbench.core.demo import DemoHome

    out.mkdir(parents=True, exist_ok=True)
    with DemoHome():
        from certbench.core.errors import ServiceError
        from certbench.gui.app import build_main_window, create_application
        from certbench.gui.errors import build_error_dialog
        from certbench.gui.settings_dialog import SettingsDialog
        from certbench.gui.tasks import task_runner

        app = create_application([])
        idle = lambda: not task_runner().busy  # noqa: E731

        window = build_main_window(demo=True)
        window.resize(1180, 760)
        window.show()
        window.start()
        _wait(app, lambda: window._ready)
        _wait(app, idle)

        def save(widget, name: str) -> None:
            app.processEvents()
            path = out / f"{name}.png"
            widget.grab().save(str(path))
            print(path)

        save(window, "dashboard-technician")

        window.request_unlock()
        _wait(app, lambda: "unlock_dialog" in window.dialogs)
        unlock = window.dialogs["unlock_dialog"]
        unlock.password.setText("demo")
        save(unlock, "unlock-dialog")
        unlock._check()
        _wait(app, lambda: window.role.admin)
        _wait(app, idle)
        save(window, "dashboard-administrator")

        settings = SettingsDialog(window.settings, window)
        settings.show()
        _wait(app, idle)
        settings.fields["iotcentral.subdomain"].setText("medicorp-devices")
        settings.validate()
        settings.tabs.setCurrentIndex(0)
        save(settings, "settings-iotcentral")
        mode = settings.fields["sectigo.auth"]
        mode.setCurrentIndex(mode.findData("oauth2"))
        settings.fields["sectigo.customer_uri"].setText("medicorp")
        settings.tabs.setCurrentIndex(1)
        save(settings, "settings-sectigo")
        settings.tabs.setCurrentIndex(2)
        save(settings, "settings-products")
        settings.tabs.setCurrentIndex(3)
        settings.test_connection("registry")
        _wait(app, idle)
        save(settings, "settings-registry")
        settings.tabs.setCurrentIndex(4)
        settings.fields["bench.cn_template"].setText("{model}-{serail}")
        settings.validate()
        save(settings, "settings-invalid")
        settings.close()

        error = build_error_dialog(
            ServiceError("IoT Central refused the API token (HTTP 401).",
                         "Replace the token in Settings > IoT Central; tokens expire after a year."),
            window, Path("C:/Users/tech/AppData/Local/MediCorp/Certbench/Logs/certbench.log"),
        )
        error.show()
        save(error, "error-dialog")
        error.close()

        window.close()
        _wait(app, idle)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
