"""No private key in clear and no secret anywhere, after a technician's whole day on the bench.

The developers' guide: "no private key on disk unencrypted, ever; secrets only in the OS
keyring; nothing secret in logs, exceptions or the audit trail. A test checks this." The
narrower checks live with their modules (tests/core/test_secrets_and_logs.py: the log filter;
tests/core/registry/test_no_secrets.py: the registry refuses key material). This one runs the
product as a technician does and then looks everywhere:

- the IoT Central, Sectigo and DPS emulators run in this process (DemoServices); one of the
  four intermediates is switched to the local CA and verified with `certbench ca verify`;
- simulated instruments run as separate processes on TCP ports (`certbench emulate
  instrument --tcp PORT`), reached as `socket://127.0.0.1:PORT`, as a USB-serial port would be;
- `certbench unit ...` is run in this process (so the in-memory keyring holds the known
  secrets): units with keys made on the instrument (P-256, P-384) and on the workstation
  (RSA-2048, P-256; DPS registration by the workstation), garbled scans, a UDI label, a label
  that is not the connected unit, a wrong IoT Central token, a wrong Sectigo password, a wrong
  local CA passphrase, the simulator killed mid-run then `unit resume` (a device key, and a
  workstation key that needs `--replace-lost-key`), a re-provision and a decommission;
- file logging at DEBUG (certbench.core.logs.setup_logging) all along; temporary files (the
  DPS registration's key files) go to a folder inside the scanned tree.

Then every byte of every file under CERTBENCH_HOME (logs, registry with its WAL, settings,
issuer journal, local CA, emulator and simulator state, temporary files), every audit event,
everything the CLI printed and the text of every Certbench exception raised (with its whole
cause/context chain) is searched for: clear PEM/DER private keys, the workstation keys' own
bytes in any common encoding (captured from the in-memory key store), and the secret values
(right and wrong) in any common encoding.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

import pytest
from certbench.core import secrets
from certbench.core.bench import WorkstationKeys
from certbench.core.cli import main
from certbench.core.config import save_settings
from certbench.core.demo import DemoServices
from certbench.core.errors import CertbenchError
from certbench.core.logs import setup_logging
from certbench.core.registry import open_registry
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

LOCAL_CA_PASSPHRASE = "LocalCA-pass-9c1f27e4b35d4a0e8f61"
WRONG_TOKEN = "SharedAccessSignature sr=3f1b2c&sig=V3JvbmdUb2tlblNpZ25hdHVyZQ%3D%3D&skn=operator&se=1893456000"
WRONG_SECTIGO_PASSWORD = "Wrong-Sectigo-Pa55-41d7e0"
WRONG_LOCAL_CA_PASSPHRASE = "Wrong-LocalCA-pass-7ab3e51c"
SIM_PASSPHRASE = "Simulator-store-pass-2e9d4f61"
# A simulated instrument's secure store seals its keys with a passphrase from its process's
# keyring; a fresh process has none, so each simulator gets a known one (the same after a
# restart, as a real instrument keeps its secure element across power cycles).
_SIM_BOOT = (
    "import os, sys\n"
    "from certbench.core import secrets\n"
    "secrets.use_memory_keyring()\n"
    "secrets.set_secret('instrument-sim-' + os.environ['SIM_SERIAL'], os.environ['SIM_PASSPHRASE'])\n"
    "from certbench.core.cli import main\n"
    "main(sys.argv[1:])\n"
)
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL)


# -- simulated instruments in their own processes ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Simulator:
    """`certbench emulate instrument --tcp PORT` in a child process: kill it to pull the cable."""

    def __init__(self, home: Path, serial: str, model: str, *options: str) -> None:
        self.serial, self.model, self.options = serial, model, options
        self.home = home
        self.tcp = _free_port()
        self.url = f"socket://127.0.0.1:{self.tcp}"
        self.process: subprocess.Popen | None = None
        self.log = home / "simulators" / f"{serial}.out"

    def start(self) -> Simulator:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "SIM_SERIAL": self.serial, "SIM_PASSPHRASE": SIM_PASSPHRASE}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SIM_BOOT, "emulate", "instrument", "--tcp", str(self.tcp), "--serial",
                 self.serial, "--model", self.model, "--store-dir", str(self.home / "simulators"), *self.options],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.tcp), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"simulator {self.serial} did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


# -- what must never be found --------------------------------------------------------------------


def _encodings(value: bytes) -> dict[str, bytes]:
    """`value` as it could land in a file, a URL, JSON or a header."""
    text = value.decode("latin-1")
    forms = {
        "raw": value, "hex": value.hex().encode(), "HEX": value.hex().upper().encode(),
        "base64": base64.b64encode(value), "base64url": base64.urlsafe_b64encode(value).rstrip(b"="),
        "url-quoted": urllib.parse.quote(text, safe="").encode("latin-1"),
        "url-quoted-plus": urllib.parse.quote_plus(text).encode("latin-1"),
        "utf-16": value.decode("latin-1").encode("utf-16-le"),
    }
    return {k: v for k, v in forms.items() if len(v) >= 8}


def _key_needles(key) -> dict[str, bytes]:
    needles: dict[str, bytes] = {}
    for name, fmt in (("PKCS#8", serialization.PrivateFormat.PKCS8),
                      ("traditional", serialization.PrivateFormat.TraditionalOpenSSL)):
        der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        for form, encoded in _encodings(der).items():
            needles[f"{name} DER ({form})"] = encoded
        needles[f"{name} PEM, first line of body"] = pem.splitlines()[1]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        scalars = {"private scalar": key.private_numbers().private_value.to_bytes(size, "big")}
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        numbers = key.private_numbers()
        scalars = {name: value.to_bytes((value.bit_length() + 7) // 8, "big")
                   for name, value in (("d", numbers.d), ("p", numbers.p), ("q", numbers.q))}
    for name, value in scalars.items():
        for form, encoded in _encodings(value).items():
            needles[f"{name} ({form})"] = encoded
    return needles


def _secret_needles(values: dict[str, str]) -> dict[str, bytes]:
    needles = {}
    for name, value in values.items():
        for form, encoded in _encodings(value.encode()).items():
            needles[f"{name} ({form})"] = encoded
        if "sig=" in value:  # a SAS token's signature alone is the secret part
            signature = value.split("sig=", 1)[1].split("&", 1)[0]
            needles[f"{name} signature"] = signature.encode()
            needles[f"{name} signature (unquoted)"] = urllib.parse.unquote(signature).encode()
    return needles


def _clear_keys_in(data: bytes) -> list[str]:
    """Private keys readable without a password: PEM blocks, or a whole file of DER."""
    found = []
    pem_text = data.replace(b"\\r", b"").replace(b"\\n", b"\n")  # PEM inside JSON strings, too
    for match in PEM_BLOCK.finditer(pem_text):
        label = match.group(1).decode()
        if label != "ENCRYPTED PRIVATE KEY":
            found.append(f"a '{label}' PEM block")
            continue
        try:
            serialization.load_pem_private_key(match.group(0), password=None)
            found.append("an 'ENCRYPTED PRIVATE KEY' block that opens without a password")
        except TypeError:
            pass  # password required: as it must be
    if re.search(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----", PEM_BLOCK.sub(b"", pem_text)):
        found.append("a private key PEM block cut short")
    try:
        serialization.load_der_private_key(data, password=None)
        found.append("a DER private key")
    except (ValueError, TypeError):
        pass
    return found


def _exception_texts(exc: BaseException, seen: set[int] | None = None) -> list[str]:
    """What an exception could ever show: its text, message, hint, repr and traceback, and
    the same for every exception chained to it (suppressed contexts included)."""
    seen = seen if seen is not None else set()
    if id(exc) in seen:
        return []
    seen.add(id(exc))
    texts = [str(exc), repr(exc), str(getattr(exc, "message", "")), str(getattr(exc, "hint", "")),
             "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            texts += _exception_texts(linked, seen)
    return texts


# -- the run -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, capsys) -> None:
        self.capsys = capsys
        self.printed: list[str] = []

    def run(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        """`certbench ARGS` as the technician types it; returns (exit status, what it printed)."""
        previous = sys.stdin
        if stdin is not None:
            import io

            sys.stdin = io.StringIO(stdin)
        try:
            with pytest.raises(SystemExit) as exit_info:
                main(list(args))
        finally:
            sys.stdin = previous
        out, err = self.capsys.readouterr()
        self.printed.append(out + err)
        return exit_info.value.code or 0, out + err


@pytest.fixture
def raised(monkeypatch) -> list[BaseException]:
    """Every Certbench error made during the test: the failure paths' exceptions, whatever
    caught them afterwards (the CLI prints only their message and hint)."""
    made: list[BaseException] = []
    original = CertbenchError.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(CertbenchError, "__init__", recording_init)
    return made


@pytest.fixture
def workstation_keys(monkeypatch) -> list:
    """The keys made on the workstation, taken from the in-memory key store as they arrive."""
    keys: list = []
    original = WorkstationKeys.put

    def recording_put(self, unit_id, generation, key):
        keys.append(key)
        original(self, unit_id, generation, key)

    monkeypatch.setattr(WorkstationKeys, "put", recording_put)
    return keys


def test_a_day_on_the_bench_leaves_no_key_in_clear_and_no_secret_anywhere(
        certbench_home, memory_keyring, capsys, monkeypatch, raised, workstation_keys):
    home = certbench_home
    monkeypatch.setattr(tempfile, "tempdir", str(home / "tmp"))
    (home / "tmp").mkdir()
    log_path = setup_logging(logging.DEBUG)
    secrets.set_secret(secrets.LOCAL_CA_PASSPHRASE, LOCAL_CA_PASSPHRASE)
    bench = Bench(capsys)
    sims: list[Simulator] = []

    def simulator(serial: str, model: str, *options: str) -> Simulator:
        sim = Simulator(home, serial, model, *options).start()
        sims.append(sim)
        return sim

    services = DemoServices(dps=True, verify=("medicorp-ica-1", "medicorp-ica-2", "medicorp-ica-3")).start()
    try:
        known = {
            "IoT Central API token": services.central.token,
            "Sectigo password": services.sectigo.password,
            "local CA passphrase": LOCAL_CA_PASSPHRASE,
            "wrong IoT Central token": WRONG_TOKEN,
            "wrong Sectigo password": WRONG_SECTIGO_PASSWORD,
            "wrong local CA passphrase": WRONG_LOCAL_CA_PASSPHRASE,
            "simulator store passphrase": SIM_PASSPHRASE,
        }
        assert memory_keyring.store[(secrets.SERVICE, secrets.IOTCENTRAL_TOKEN)] == known["IoT Central API token"]
        assert memory_keyring.store[(secrets.SERVICE, secrets.SECTIGO_PASSWORD)] == known["Sectigo password"]

        # lx5's intermediate comes from the bench's own local CA (its key sealed with the
        # passphrase in the keyring), proven to IoT Central as an administrator would.
        ica4 = services.settings.intermediate("medicorp-ica-4")
        ica4.source, ica4.profile_id, ica4.org_id, ica4.certificate_file = "local", 0, 0, ""
        save_settings(services.settings)
        code, out = bench.run("ca", "verify", "medicorp-ica-4")
        assert code == 0, out

        dps_ca = services.settings.dps.ca_file
        mx200 = simulator("MX2E0001", "MX200", "--dps-ca", dps_ca)  # key on the instrument, registers itself
        vx10 = simulator("VX1E0001", "VX10", "--no-register")  # P-384 key on the instrument
        mx300 = simulator("MX3E0001", "MX300", "--no-keygen", "--no-register")  # RSA key from the workstation
        mx300b = simulator("MX3E0002", "MX300", "--no-keygen", "--no-register")
        lx5 = simulator("LX5E0001", "LX5", "--no-keygen", "--no-register")  # EC key from the workstation, local CA

        # Scans from the keyboard wedge / stdin: garbage, a foreign label, a broken HIBC, then
        # the unit's UDI label (GS1, GTIN of mx200): the garbage is refused, the unit is done.
        code, out = bench.run("unit", "provision", "--port", mx200.url, stdin=(
            "garbage!!@@\n]d2\x1d0100000000000000\x1d21X\n+MDCPMX2001/$$3MX2E0001Q\n"
            "(01)09506000134352(21)MX2E0001\n"))
        assert code == 0 and out.count("Scan refused") == 3, out
        assert "mx200-mx2e0001: done" in out, out

        # A label that is not the connected unit: refused, nothing reserved.
        code, out = bench.run("unit", "provision", "--port", mx300.url, "--scan", "MX3E0099", "--model", "mx300")
        assert code == 3 and "MX3E0099" in out and "MX3E0001" in out, out

        # A wrong IoT Central token: refused before anything is reserved.
        secrets.set_secret(secrets.IOTCENTRAL_TOKEN, WRONG_TOKEN)
        code, out = bench.run("unit", "provision", "--port", mx300.url, "--scan", "MX3E0001", "--model", "mx300")
        assert code != 0 and "Error" in out, out
        assert open_registry(None).find_unit(serial="MX3E0001", model="mx300") is None
        secrets.set_secret(secrets.IOTCENTRAL_TOKEN, known["IoT Central API token"])

        # A wrong Sectigo password: the order fails; the key made on the workstation dies with
        # the command; resuming makes a new one (nothing was ordered for the first) and finishes,
        # registering through DPS from the workstation.
        secrets.set_secret(secrets.SECTIGO_PASSWORD, WRONG_SECTIGO_PASSWORD)
        code, out = bench.run("unit", "provision", "--port", mx300.url, "--scan", "MX3E0001", "--model", "mx300")
        assert code == 5, out
        secrets.set_secret(secrets.SECTIGO_PASSWORD, known["Sectigo password"])
        code, out = bench.run("unit", "resume", "mx300-mx3e0001", "--port", mx300.url)
        assert code == 0 and "mx300-mx3e0001: done" in out, out

        # A wrong local CA passphrase: the local CA cannot sign; then right again, resumed.
        secrets.set_secret(secrets.LOCAL_CA_PASSPHRASE, WRONG_LOCAL_CA_PASSPHRASE)
        code, out = bench.run("unit", "provision", "--port", lx5.url, "--scan", "LX5E0001", "--model", "lx5",
                              "--no-registration")
        assert code != 0 and "Error" in out, out
        secrets.set_secret(secrets.LOCAL_CA_PASSPHRASE, LOCAL_CA_PASSPHRASE)
        code, out = bench.run("unit", "resume", "lx5-lx5e0001", "--port", lx5.url, "--no-registration")
        assert code == 0 and "lx5-lx5e0001: done" in out, out

        # The cable pulled (the simulator killed) while the certificate is being collected.
        def pulled_mid_run(sim: Simulator, *args: str) -> tuple[int, str]:
            app = services.sectigo.app
            hits = len(app.faults.hits)
            app.faults.add("latency", 1, path=r"/collect/", seconds=1.0)
            result: list = []
            worker = threading.Thread(target=lambda: result.append(bench.run(*args)))
            worker.start()
            deadline = time.monotonic() + 60
            while len(app.faults.hits) == hits and time.monotonic() < deadline:
                time.sleep(0.01)
            sim.kill()
            worker.join(120)
            assert result, "the provisioning command did not end"
            return result[0]

        code, out = pulled_mid_run(vx10, "unit", "provision", "--port", vx10.url, "--scan", "VX1E0001",
                                   "--model", "vx10")
        assert code == 6, out
        vx10.start()  # plugged in again: its key is still pending in its secure store
        code, out = bench.run("unit", "resume", "vx10-vx1e0001", "--port", vx10.url)
        assert code == 0 and "vx10-vx1e0001: done" in out and "resumed" in out, out

        code, out = pulled_mid_run(mx300b, "unit", "provision", "--port", mx300b.url, "--scan", "MX3E0002",
                                   "--model", "mx300", "--no-registration")
        assert code == 6, out
        mx300b.start()
        code, out = bench.run("unit", "resume", "mx300-mx3e0002", "--port", mx300b.url, "--no-registration")
        assert code == 1 and "--replace-lost-key" in out, out  # the workstation key died with the command
        code, out = bench.run("unit", "resume", "mx300-mx3e0002", "--port", mx300b.url, "--no-registration",
                              "--replace-lost-key")
        assert code == 0 and "mx300-mx3e0002: done" in out, out

        # End of life: a board swap and a scrapped unit.
        code, out = bench.run("unit", "reprovision", "mx300-mx3e0001", "--reason", "board swap", "--port", mx300.url)
        assert code == 0, out
        code, out = bench.run("unit", "decommission", "lx5-lx5e0001", "--reason", "scrapped", "--port", lx5.url)
        assert code == 0 and "wiped" in out, out
    finally:
        for sim in sims:
            sim.kill()
        services.stop()
    for handler in logging.getLogger().handlers:
        handler.flush()

    # -- the search ----------------------------------------------------------------------------
    registry = open_registry(None)
    try:
        assert registry.verify().ok
        units = {u.cn: u.state.value for u in registry.list_units()}
        events = [str(event.to_dict()) for event in registry.events()]
        stored_certificate = registry.current_certificate("mx300-mx3e0001")
    finally:
        registry.close()
    assert units == {"mx200-mx2e0001": "done", "mx300-mx3e0001": "done", "mx300-mx3e0002": "done",
                     "lx5-lx5e0001": "revoked", "vx10-vx1e0001": "done"}

    # Keys made on the workstation: mx300 x2 (the first lost to the wrong password), again for
    # the re-provision, mx300b twice (lost, replaced), lx5 twice (the wrong passphrase).
    assert len(workstation_keys) >= 6
    assert any(isinstance(k, rsa.RSAPrivateKey) for k in workstation_keys)
    assert any(isinstance(k, ec.EllipticCurvePrivateKey) for k in workstation_keys)
    needles: dict[str, bytes] = _secret_needles(known)
    for index, key in enumerate(workstation_keys):
        for label, needle in _key_needles(key).items():
            needles[f"workstation key #{index}: {label}"] = needle

    files = [p for p in sorted(home.rglob("*")) if p.is_file()]
    names = {p.name for p in files}
    # The search reads what matters: the log at DEBUG, the registry, settings, the local CA,
    # the simulators' secure stores, the issuer's journal.
    assert {"certbench.log", "certbench.db", "certbench.toml", "state.json"} <= names, names
    log_text = log_path.read_text(encoding="utf-8")
    assert " DEBUG " in log_text and "mx300-mx3e0001" in log_text
    assert stored_certificate is not None
    database = b"".join(p.read_bytes() for p in files if p.name.startswith("certbench.db"))
    assert b"mx300-mx3e0001" in database and stored_certificate.sha256.encode() in database

    problems = []
    for path in files:
        data = path.read_bytes()
        for what in _clear_keys_in(data):
            problems.append(f"{path.relative_to(home)}: {what}")
        for label, needle in needles.items():
            if needle in data:
                problems.append(f"{path.relative_to(home)}: {label}")
    exception_texts = [text for exc in raised for text in _exception_texts(exc)]
    assert len(raised) >= 6  # the failure paths above did raise
    for where, texts in (("audit trail", events), ("CLI output", bench.printed),
                         ("exception text", exception_texts)):
        blob = "\n".join(texts).encode("utf-8", "surrogateescape")
        for what in _clear_keys_in(blob):
            problems.append(f"{where}: {what}")
        for label, needle in needles.items():
            if needle in blob:
                problems.append(f"{where}: {label}")
    assert not problems, "\n".join(problems)
