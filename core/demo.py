"""Demo mode's environment: a throw-away Certbench home and an in-memory keyring, so a demo
never touches the bench's real settings, data or keyring. Shared by `certbench demo` and
`certbench gui --demo`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# What the administrator unlock accepts in demo mode (said on the unlock dialog).
DEMO_ADMIN_PASSWORD = "demo"


class DemoHome:
    """A throw-away CERTBENCH_HOME and an in-memory keyring for the length of a demo."""

    def __init__(self, keep: Path | None = None) -> None:
        self.keep = keep
        self.path: Path | None = None
        self._previous: str | None = None

    def __enter__(self) -> Path:
        from certbench.core import secrets

        self.path = self.keep or Path(tempfile.mkdtemp(prefix="certbench-demo-"))
        self._previous = os.environ.get("CERTBENCH_HOME")
        os.environ["CERTBENCH_HOME"] = str(self.path)
        secrets.use_memory_keyring()
        return self.path

    def __exit__(self, *exc) -> None:
        if self._previous is None:
            os.environ.pop("CERTBENCH_HOME", None)
        else:
            os.environ["CERTBENCH_HOME"] = self._previous
        if self.keep is None and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)




# -- the services a demo runs on -----------------------------------------------------------------

# Intermediates the demo takes from the Sectigo emulator; the others stay on the local CA, so
# both kinds of issuer are on show.
DEMO_SECTIGO_INTERMEDIATES = ("medicorp-ica-1", "medicorp-ica-2")


class DemoServices:
    """The IoT Central and Sectigo emulators, in this process on 127.0.0.1 (ephemeral ports),
    with the settings file and keyring pointed at them, for the length of a demo.

        with DemoHome() as home, DemoServices(home) as services:
            settings = services.settings      # also saved as the user's settings file

    Everything lives under `home` (emulator state, their CA files) and goes with it. The
    Sectigo emulator is given one issued order per demo profile, placed through its real API
    at start-up (a throw-away key kept in memory only), so "fetch the intermediate from
    Sectigo" has an order to read it from, as on an account that has issued before.
    Extend `start()` (e.g. the DPS emulator) rather than starting services elsewhere.
    """

    def __init__(self, home: Path, *, sectigo_intermediates: tuple[str, ...] = DEMO_SECTIGO_INTERMEDIATES) -> None:
        self.home = Path(home)
        self.sectigo_intermediates = sectigo_intermediates
        self.iotcentral = None  # RunningEmulator
        self.sectigo = None  # RunningSectigoEmulator
        self.settings = None  # certbench.core.config.Settings

    def start(self):
        from certbench.core import secrets
        from certbench.core.config import default_settings, save_settings
        from certbench.core.emulators.iotcentral import start_emulator as start_iotcentral
        from certbench.core.emulators.sectigo import start_emulator as start_sectigo

        folder = self.home / "emulators"
        try:
            self.iotcentral = start_iotcentral(state_dir=folder / "iotcentral")
            self.sectigo = start_sectigo(state_dir=folder / "sectigo")
            settings = default_settings()
            settings.iotcentral.base_url = self.iotcentral.base_url
            settings.iotcentral.ca_file = str(self.iotcentral.ca_file)
            settings.sectigo.base_url = self.sectigo.base_url
            settings.sectigo.ca_file = str(self.sectigo.ca_file)
            settings.sectigo.customer_uri = self.sectigo.customer_uri
            settings.sectigo.login = self.sectigo.login
            settings.sectigo.auth = "password"
            profiles = self.sectigo.profiles()
            for item in settings.intermediates:
                if item.name in self.sectigo_intermediates:
                    item.source = "sectigo"
                    item.profile_id = profiles[item.name]
                    item.org_id = self.sectigo.app.org_id
                    item.display_name += " (Sectigo)"
            secrets.set_secret(secrets.IOTCENTRAL_TOKEN, self.iotcentral.token)
            secrets.set_secret(secrets.SECTIGO_PASSWORD, self.sectigo.password)
            save_settings(settings)
            self._seed_sectigo_orders(settings)
        except BaseException:
            self.stop()
            raise
        self.settings = settings
        return settings

    def _seed_sectigo_orders(self, settings) -> None:
        from certbench.core.pki.sectigo.client import SectigoClient
        from certbench.core.x509.csr import csr_to_pem
        from certbench.core.x509.identity import make_identity

        with SectigoClient.from_settings(settings.sectigo) as client:
            for item in settings.intermediates:
                if item.source != "sectigo":
                    continue
                identity = make_identity(f"demo-earlier-unit-{item.name[-1]}", "ec-p256")
                order = client.enroll(org_id=item.org_id, cert_type=item.profile_id, csr_pem=csr_to_pem(identity.csr),
                                      term=item.term_days, comments="Demo: a unit issued before this session")
                client.collect(order.order_id, "x509CO")

    def stop(self) -> None:
        for running in (self.sectigo, self.iotcentral):
            if running is not None:
                running.stop()
        self.sectigo = self.iotcentral = None

    def __enter__(self) -> DemoServices:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["DEMO_ADMIN_PASSWORD", "DEMO_SECTIGO_INTERMEDIATES", "DemoHome", "DemoServices"]
