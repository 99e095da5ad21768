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


__all__ = ["DEMO_ADMIN_PASSWORD", "DemoHome"]


# -- emulated services for demo mode, tests and benchmarks -------------------------------------

SIM_PORT_PREFIX = "sim:"


def free_loopback_address() -> str:
    """A 127.x.y.z whose port 8883 is free (DPS listens on the fixed MQTT/TLS port)."""
    import errno
    import random
    import socket

    rng = random.SystemRandom()
    for _ in range(50):
        host = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        probe = socket.socket()
        try:
            probe.bind((host, 8883))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        finally:
            probe.close()
        return host
    raise OSError("no free 127.x.y.z address with port 8883 was found for the DPS emulator")


class DemoServices:
    """The IoT Central, Sectigo and DPS emulators running in this process, Settings pointing
    at them (secrets in the keyring), the four intermediates verified in IoT Central through
    the real CA-verification workflow, and simulated instruments on demand.

        with DemoHome(), DemoServices() as demo:
            port = demo.add_instrument("mx200", "MX2A0001")
            with demo.bench_env() as env:
                provision_unit(env, "MX2A0001", port, model="mx200")

    `dps=False` leaves DPS out (and the registration check off); `sectigo_options` go to the
    Sectigo emulator (e.g. pending_collects=2); `verify=False` leaves the intermediates
    unverified (a test can verify some itself).
    """

    def __init__(self, folder: Path | None = None, *, dps: bool = True, verify: bool | tuple[str, ...] = True,
                 sectigo_options: dict | None = None, paced_baud: int | None = None) -> None:
        from certbench.core import paths

        self.folder = Path(folder) if folder else paths.data_dir() / "demo-services"
        self.want_dps = dps
        self.verify = verify
        self.sectigo_options = dict(sectigo_options or {})
        self.paced_baud = paced_baud
        self.central = None  # RunningEmulator (IoT Central)
        self.dps = None  # RunningDps, when dps=True
        self.sectigo = None  # RunningSectigoEmulator
        self.settings = None  # certbench.core.config.Settings
        self.instruments: dict[str, object] = {}  # port name -> SimulatedInstrument
        self.verified: list[str] = []
        self._dps_ca_pem: str | None = None
        self._dps_registrar = None

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> DemoServices:
        from certbench.core import secrets
        from certbench.core.config import default_settings, save_settings
        from certbench.core.emulators.sectigo import start_emulator as start_sectigo
        from certbench.core.x509.parse import to_pem

        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            if self.want_dps:
                from certbench.core.emulators.dps.run import start_dps_with_central

                self.dps = start_dps_with_central(host=free_loopback_address(), ca_dir=self.folder / "dps")
                self.central = self.dps.central
                self._dps_ca_pem = Path(self.dps.ca_file).read_text()
            else:
                from certbench.core.emulators.iotcentral import start_emulator

                self.central = start_emulator(ca_dir=self.folder / "iotcentral")
            self.sectigo = start_sectigo(ca_dir=self.folder / "sectigo", **self.sectigo_options)
            settings = default_settings()
            settings.bench.workstation = "DEMO-BENCH"
            settings.bench.check_registration = self.want_dps
            settings.iotcentral.base_url = self.central.base_url
            settings.iotcentral.ca_file = str(self.central.ca_file)
            settings.sectigo.base_url = self.sectigo.base_url
            settings.sectigo.customer_uri = self.sectigo.customer_uri
            settings.sectigo.login = self.sectigo.login
            settings.sectigo.ca_file = str(self.sectigo.ca_file)
            settings.sectigo.poll_limit_seconds = 60.0
            app = self.sectigo.app
            chains = self.folder / "intermediates"
            chains.mkdir(exist_ok=True)
            for item in settings.intermediates:
                info = app.ca.intermediate(item.name)
                path = chains / f"{item.name}.pem"
                path.write_text(to_pem([info.certificate, *info.chain_above]))
                item.source = "sectigo"
                item.profile_id = app.profile_for(item.name)
                item.org_id = app.org_id
                item.certificate_file = str(path)
            if self.dps is not None:
                settings.dps.host = self.dps.host
                settings.dps.id_scope = self.dps.id_scope
                settings.dps.ca_file = str(self.dps.ca_file)
            secrets.set_secret(secrets.IOTCENTRAL_TOKEN, self.central.token)
            secrets.set_secret(secrets.SECTIGO_PASSWORD, self.sectigo.password)
            save_settings(settings)
            self.settings = settings
            if self.verify:
                names = self.verify if isinstance(self.verify, tuple) else tuple(i.name for i in settings.intermediates)
                self.verify_intermediates(names)
        except BaseException:
            self.stop()
            raise
        return self

    def verify_intermediates(self, names) -> None:
        """Proof of possession for `names` in their configured group/entry (the real workflow)."""
        from certbench.core.iotcentral import IoTCentralClient
        from certbench.core.pki.sectigo.issuer import SectigoIssuer
        from certbench.core.workflows.ca_verification import verify_intermediate

        settings = self.settings
        with IoTCentralClient.from_settings(settings.iotcentral) as client:
            issuer = SectigoIssuer.from_settings(settings, poll_interval=0.05, poll_max_interval=0.2)
            try:
                for name in names:
                    item = settings.intermediate(name)
                    verify_intermediate(client, issuer, name, group=item.group, entry=item.entry)
                    self.verified.append(name)
            finally:
                issuer.close()

    def stop(self) -> None:
        for sim in self.instruments.values():
            sim.close()  # type: ignore[attr-defined]
        self.instruments.clear()
        if self.sectigo is not None:
            self.sectigo.stop()
            self.sectigo = None
        if self.dps is not None:
            self.dps.stop()
        elif self.central is not None:
            self.central.stop()
        self.dps = self.central = None

    def __enter__(self) -> DemoServices:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- instruments -------------------------------------------------------------------------
    def add_instrument(self, model: str, serial: str, *, reported_model: str | None = None, port: str | None = None,
                       **options) -> str:
        """A simulated instrument of product `model` (capabilities from the product: on-device
        keys for key_source "device"); returns its port name for `bench_env()`'s opener."""
        from certbench.core.emulators.instrument.line import LineConfig
        from certbench.core.emulators.instrument.simulator import SimulatedInstrument

        product = self.settings.product(model)
        options.setdefault("keygen", product.key_source == "device")
        if options["keygen"]:
            options.setdefault("algorithms", ("ec-p256", "ec-p384", "rsa-2048"))
        if self.dps is not None:
            options.setdefault("register_handler", self._registrar())
        if self.paced_baud and "line" not in options:
            options["line"] = LineConfig(baud=self.paced_baud)
        options.setdefault("store_dir", self.folder / "instruments")
        sim = SimulatedInstrument(model=reported_model or product.model.upper(), serial=serial, **options)
        port = port or f"{SIM_PORT_PREFIX}{serial}"
        if port in self.instruments:
            raise ValueError(f"port {port} is already taken by a simulated instrument")
        self.instruments[port] = sim
        return port

    def instrument(self, port: str):
        return self.instruments[port]

    def retire_instrument(self, port: str) -> None:
        """Unplug and forget the simulated instrument on `port` (its store stays on disk)."""
        sim = self.instruments.pop(port, None)
        if sim is not None:
            sim.close()  # type: ignore[attr-defined]

    def open_transport(self, port: str):
        sim = self.instruments.get(port)
        if sim is None:
            from certbench.core.instrument.transport import SerialTransport

            return SerialTransport(port)
        return sim.connect()  # type: ignore[attr-defined]

    def _registrar(self):
        """REGISTER on the simulators: a real DPS registration, trusting the DPS emulator's CA
        as a real instrument trusts Azure's roots."""
        if self._dps_registrar is None:
            from certbench.core.emulators.instrument.register import DpsRegistrar
            from certbench.core.x509.parse import load_certificates

            self._dps_registrar = DpsRegistrar(load_certificates(self._dps_ca_pem.encode()), timeout=30)
        return self._dps_registrar

    def bench_env(self, operator: str = "demo", **kwargs):
        """A BenchEnv on these services, opening `sim:` ports on the simulators."""
        from certbench.core.bench import BenchEnv

        kwargs.setdefault("transport_opener", self.open_transport)
        return BenchEnv.from_settings(self.settings, operator=operator, **kwargs)


__all__ += ["DemoServices", "SIM_PORT_PREFIX"]
