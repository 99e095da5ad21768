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
    from certbench.core.demo import DemoHome, DemoServices
    from certbench.gui.app import DEMO_VERIFIED_AT_START

    out.mkdir(parents=True, exist_ok=True)
    with DemoHome() as home, DemoServices(home / "services", verify=DEMO_VERIFIED_AT_START) as demo:
        from certbench.core.errors import ServiceError
        from certbench.gui.app import build_main_window, create_application
        from certbench.gui.errors import build_error_dialog
        from certbench.gui.settings_dialog import SettingsDialog
        from certbench.gui.tasks import task_runner

        app = create_application([])
        idle = lambda: not task_runner().busy  # noqa: E731

        window = build_main_window(demo=True, demo_services=demo)
        window.resize(1180, 760)
        window.show()
        window.start()
        _wait(app, lambda: window._ready)
        _wait(app, idle)

        def save(widget, name: str) -> None:
            # Word-wrapped labels settle over a few layout passes.
            for _ in range(5):
                app.processEvents()
                time.sleep(0.01)
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

        _technician_wizard(app, window, demo, save, idle)
        _admin_wizard(app, window, save, idle)
        _history(app, window, demo, save, idle)

        window.close()
        _wait(app, idle)
    return 0


def _technician_wizard(app, window, demo, save, idle) -> None:
    """The technician wizard on the demo bench: a unit provisioned from a demo label, a
    mismatch, and a cable pulled during the transfer (then resumed)."""
    from certbench.gui.wizards.technician_wizard import PAGE_CONFIRM, PAGE_RESULT

    window.actions_by_name["technician_wizard"].trigger()
    wizard = window.dialogs["technician_wizard"]
    wizard.resize(820, 640)
    page = wizard.instrument_page
    _wait(app, lambda: len(page.rows) == 4 and not page.searching)
    save(wizard, "tech-wizard-instrument")
    wizard.next()
    save(wizard, "tech-wizard-scan")
    wizard.show_demo_labels()
    sheet = wizard.demo_labels_dialog
    sheet.adjustSize()
    save(sheet, "tech-wizard-demo-labels")

    def scan(serial: str) -> None:
        sheet.buttons[serial].click()
        _wait(app, lambda: wizard.currentId() == PAGE_CONFIRM and not wizard.confirm_page.checking)

    scan("MX2D0099")  # a label whose unit is not on the bench
    save(wizard, "tech-wizard-mismatch")
    wizard.back()
    scan("MX2D0001")
    save(wizard, "tech-wizard-confirm")

    provision = wizard.provision_page
    original = provision._progress
    taken = []

    def progress(event) -> None:
        original(event)
        detail = event.detail
        if not taken and detail.get("transfer") and detail["bytes_done"] * 2 >= detail["bytes_total"]:
            taken.append(True)
            save(wizard, "tech-wizard-provision")

    provision._progress = progress
    wizard.next()
    _wait(app, lambda: wizard.currentId() == PAGE_RESULT)
    provision._progress = original
    save(wizard, "tech-wizard-result")

    # The next unit, one scan away; its cable "pulled" while the credentials are sent.
    sim = demo.instrument("sim:MX3D0001")
    env = wizard.bench_env()
    issuer = env.issuer

    class PullsCable:
        def __getattr__(self, name):
            return getattr(issuer, name)

        def collect(self, *args, **kwargs):
            issued = issuer.collect(*args, **kwargs)
            sim.faults.disconnect_at = sim.stats.requests + 1
            sim.faults.disconnect_after_handling = True
            return issued

    env.issuer = PullsCable()
    try:
        sheet.buttons["MX3D0001"].click()
        _wait(app, lambda: wizard.currentId() == PAGE_CONFIRM and not wizard.confirm_page.checking)
        wizard.next()
        _wait(app, lambda: wizard.currentId() == PAGE_RESULT)
    finally:
        env.issuer = issuer
    save(wizard, "tech-wizard-failed")
    wizard.result_page.resume.click()
    _wait(app, lambda: wizard.currentId() == PAGE_RESULT)
    save(wizard, "tech-wizard-resumed")
    sheet.close()
    wizard.close()
    _wait(app, idle)
    window.refresh()
    _wait(app, idle)
    save(window, "dashboard-after-units")


def _admin_wizard(app, window, save, idle) -> None:
    """The administrator wizard verifying an intermediate the demo left unverified."""
    from PySide6.QtWidgets import QWizard

    window.actions_by_name["admin_wizard"].trigger()
    wizard = window.dialogs["admin_wizard"]
    wizard.resize(780, 640)
    wizard.choose_page.select("medicorp-ica-3")
    _wait(app, wizard.choose_page.isComplete)
    save(wizard, "admin-wizard-choose")
    wizard.next()
    save(wizard, "admin-wizard-inspect")
    wizard.next()
    page = wizard.group_page
    _wait(app, lambda: not page._loading and page.entry_state is not None)
    save(wizard, "admin-wizard-group")
    wizard.next()
    _wait(app, wizard.run_page.isComplete)
    save(wizard, "admin-wizard-run")
    wizard.next()
    save(wizard, "admin-wizard-result")
    wizard.button(QWizard.WizardButton.FinishButton).click()
    _wait(app, idle)


def _history(app, window, demo, save, idle) -> None:
    """History after a few demo units: one provisioned, one failed, one decommissioned."""
    from certbench.core.registry import Actor, open_registry
    from certbench.core.workflows.unit_provisioning import provision_unit

    with demo.bench_env(operator="tech-tom") as env:
        for serial in ("MX2A0001", "MX2A0002"):
            provision_unit(env, serial, demo.add_instrument("mx200", serial), model="mx200")
    with open_registry(None) as registry:
        tech = Actor("tech-una", "DEMO-BENCH")
        unit = registry.reserve("MX3B0007", "mx300", None, "mx300-mx3b0007", actor=tech)
        registry.fail(unit, "The instrument stopped answering during the transfer (cable pulled?).", actor=tech)
    window.actions_by_name["history"].trigger()
    history = window.dialogs["history"]
    history.resize(1100, 760)
    _wait(app, lambda: history.result is not None)
    _wait(app, idle)
    history.select_unit(history.result.units[-1].id)
    _wait(app, lambda: history.trail is not None)
    _wait(app, idle)
    history.verify_audit()
    _wait(app, idle)
    save(history, "history")
    history.close()


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
