"""Start the Sectigo emulator in this process: for tests, demo mode and `certbench emulate sectigo`.

    with run_emulator() as emu:
        client = SectigoClient(emu.base_url, PasswordAuth(emu.login, emu.password, emu.customer_uri),
                               ca_file=emu.ca_file)

The server asks for (but does not require) a TLS client certificate, so the `/private`
client-certificate sign-in works on the same port; `client_certificate` is one it accepts.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from certbench.core import secrets
from certbench.core.emulators.httpserver import EmulatorServer
from certbench.core.emulators.sectigo.app import TOKEN_PATH, SectigoEmulator
from certbench.core.emulators.tls import EmulatorCA

CA_FILE = "sectigo-emulator-ca.pem"
CLIENT_CERT_LOGIN = "certbench-cert-login"
OAUTH_CLIENT_ID = "certbench"


@dataclass
class RunningSectigoEmulator:
    server: EmulatorServer
    app: SectigoEmulator
    ca_file: Path
    tls: EmulatorCA
    client_certificate: x509.Certificate
    client_key: object = field(repr=False)
    oauth_client_secret: str = field(repr=False, default="")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def login(self) -> str:
        return self.app.login

    @property
    def password(self) -> str:
        return self.app.password

    @property
    def customer_uri(self) -> str:
        return self.app.customer_uri

    def profiles(self) -> dict[str, int]:
        """Intermediate name -> its (auto-approved) profile id."""
        return {p.intermediate: p.id for p in self.app.profiles.values() if not p.requires_approval}

    def stop(self) -> None:
        self.server.stop()
        self.app.close()


def start_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    state_dir: Path | str | None = None,
    ca_dir: Path | str | None = None,
    **app_options: object,
) -> RunningSectigoEmulator:
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        raise ValueError("The emulator listens on loopback addresses only.")
    app = SectigoEmulator(state_dir=Path(state_dir) if state_dir else None, **app_options)  # type: ignore[arg-type]
    tls = EmulatorCA("Certbench Sectigo Emulator CA")
    client_cert, client_key = tls.issue(CLIENT_CERT_LOGIN, client=True)
    app.add_client_certificate(CLIENT_CERT_LOGIN, client_cert)
    oauth_secret = app.add_oauth_client(OAUTH_CLIENT_ID)
    secrets.register_secret_value(app.password)
    secrets.register_secret_value(oauth_secret)
    server = EmulatorServer(app, host=host, port=port, tls=tls, client_cas=[tls.certificate])
    folder = Path(ca_dir or state_dir or tempfile.mkdtemp(prefix="certbench-sectigo-"))
    ca_file = tls.write_pem(folder / CA_FILE)
    server.start()
    return RunningSectigoEmulator(server, app, ca_file, tls, client_cert, client_key, oauth_secret)


@contextmanager
def run_emulator(**kwargs: object) -> Iterator[RunningSectigoEmulator]:
    emulator = start_emulator(**kwargs)  # type: ignore[arg-type]
    try:
        yield emulator
    finally:
        emulator.stop()
