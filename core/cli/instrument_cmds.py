"""`certbench instrument ports|hello|hash|wipe|register` (talk to an instrument on a serial port) and
`certbench emulate instrument` (run the instrument simulator standalone)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from certbench.core.cli.emulate_cmds import emulate, serve_until_interrupted
from certbench.core.cli.output import console, json_option, print_json
from certbench.core.errors import ConfigError, InputError

__all__ = ["instrument", "emulate"]

_port_option = click.option(
    "--port", "-p", required=True,
    help="COM3, /dev/ttyUSB0, or a pyserial URL such as socket://127.0.0.1:5555 (simulator) or rfc2217://host:port.",
)
_baud_option = click.option("--baud", type=int, default=None,
                            help="Line speed (default: [bench] instrument_baud in the settings, 115200).")
_serial_option = click.option("--expect-serial", default=None, help="Refuse unless the instrument reports this serial number.")


def _configured_baud(baud: int | None) -> int:
    if baud is not None:
        return baud
    from certbench.core.config import load_settings

    return load_settings().bench.instrument_baud


def _open(port: str, baud: int | None, expect_serial: str | None = None):
    from certbench.core.instrument import Instrument

    return Instrument.open(port, _configured_baud(baud), expect_serial=expect_serial)


@click.group()
def instrument() -> None:
    """Talk to an instrument on a serial port (USB-serial, or the simulator)."""


@instrument.command("ports")
@click.option("--probe", is_flag=True, help="Also say HELLO on each port to see which instrument is there.")
@_baud_option
@json_option
def ports_cmd(probe: bool, baud: int, as_json: bool) -> None:
    """List serial ports with their USB identity; with --probe, what instrument answers on each."""
    from certbench.core.instrument.ports import list_ports, probe as probe_ports

    ports = list_ports()
    answers = {f.port: f for f in probe_ports([p.device for p in ports], _configured_baud(baud))} if probe else {}
    rows = []
    for p in ports:
        row = p.to_dict()
        if probe:
            found = answers[p.device]
            row["instrument"] = found.hello.to_dict() if found.hello else None
            row["probe_error"] = found.error
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No serial ports found. Plug in the instrument's USB cable and check Device Manager.")
        return
    for row in rows:
        ident = f" [{row['usb_id']}]" if row["usb_id"] else ""
        sn = f" sn={row['serial_number']}" if row["serial_number"] else ""
        line = f"{row['device']}{ident}{sn}  {row['description']}"
        if probe:
            inst = row["instrument"]
            line += f"  -> {inst['model']} {inst['serial']} fw {inst['firmware']}" if inst else "  -> no instrument"
        console.print(line)


@instrument.command("hello")
@_port_option
@_baud_option
@_serial_option
@json_option
def hello_cmd(port: str, baud: int, expect_serial: str | None, as_json: bool) -> None:
    """Identify the instrument: model, serial, firmware, capabilities, stores."""
    with _open(port, baud, expect_serial) as inst:
        info = inst.info.to_dict()
    if as_json:
        print_json(info)
        return
    console.print(f"{info['model']}  serial {info['serial']}  firmware {info['firmware']}  (protocol v{info['protocol_version']})")
    keygen = f"yes ({', '.join(info['algorithms'])})" if info["keygen"] else "no"
    console.print(f"on-device key generation: {keygen}; key import: {'yes' if info['key_import'] else 'no'}")
    console.print(f"stores: {', '.join(f'{k} {v} B' for k, v in info['stores'].items())}")
    console.print(f"receive buffer {info['rx_buffer']} B, max frame {info['max_frame']} B; locked: {'yes' if info['locked'] else 'no'}")


@instrument.command("hash")
@_port_option
@_baud_option
@_serial_option
@click.option("--staged", is_flag=True, help="Hash the staged (not yet committed) stores instead of the live ones.")
@json_option
def hash_cmd(port: str, baud: int, expect_serial: str | None, staged: bool, as_json: bool) -> None:
    """SHA-256 of each credential store (KEY: of the public key), to compare with what was sent."""
    from certbench.core.instrument.protocol import store_name

    with _open(port, baud, expect_serial) as inst:
        hashes = inst.hashes(staged=staged)
    data = {store_name(s): (h.hex() if h else None) for s, h in hashes.items()}
    if as_json:
        print_json(data)
        return
    for name, digest in data.items():
        console.print(f"{name:6} {digest or '(empty)'}")


@instrument.command("wipe")
@_port_option
@_baud_option
@_serial_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe_cmd(port: str, baud: int, expect_serial: str | None, yes: bool) -> None:
    """Decommission: erase the instrument's certificates and keys."""
    with _open(port, baud, expect_serial) as inst:
        info = inst.info
        if not yes and not click.confirm(f"Erase all credentials of {info.model} {info.serial}?", default=False):
            raise InputError("Nothing was erased.", "Run again and confirm, or pass --yes.")
        inst.wipe()
    console.print(f"{info.model} {info.serial}: credentials erased.")


@instrument.command("register")
@_port_option
@_baud_option
@_serial_option
@click.option("--scope", default=None, help="DPS ID scope (default: [dps] id_scope).")
@click.option("--host", "dps_host", default=None, help="DPS host (default: [dps] host).")
@click.option("--ca", "ca_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The CA the instrument must verify DPS with; one of its TRUST certificates (default: [dps] ca_file).")
@json_option
def register_cmd(port, baud, expect_serial, scope, dps_host, ca_file, as_json) -> None:
    """The instrument registers itself with DPS; then IoT Central must show it provisioned."""
    from certbench.core.config import load_settings
    from certbench.core.dps.instrument import register_instrument
    from certbench.core.x509.parse import load_certificate_file

    settings = load_settings()
    scope = scope or settings.dps.id_scope
    if not scope:
        raise ConfigError("No DPS ID scope is known.", "Pass --scope, or set [dps] id_scope in Settings.")
    ca_path = ca_file or (Path(settings.dps.ca_file) if settings.dps.ca_file else None)
    server_ca = None
    if ca_path is not None:
        certs = load_certificate_file(ca_path)
        if len(certs) != 1:
            raise InputError(f"{ca_path} holds {len(certs)} certificates; REGISTER names exactly one.",
                             "Give a file with only the CA certificate that signs the DPS server's certificate.")
        server_ca = certs[0]
    central = None
    if settings.iotcentral.base_url or settings.iotcentral.subdomain:
        from certbench.core.iotcentral import IoTCentralClient

        central = IoTCentralClient.from_settings(settings.iotcentral)
    try:
        with _open(port, baud, expect_serial) as inst:
            result = register_instrument(inst, id_scope=scope, host=dps_host or settings.dps.host, server_ca=server_ca,
                                         central=central)
    finally:
        if central is not None:
            central.close()
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"[green]{result.model} {result.serial}[/] registered as [bold]{result.device_id}[/], "
                  f"assigned to {result.assigned_hub}.")
    console.print(f"IoT Central: {'device exists and is provisioned' if result.central == 'provisioned' else result.central}.")


@emulate.command("instrument")
@click.option("--pty", "use_pty", is_flag=True, help="Serve on a pseudo-terminal (Linux); prints its /dev/pts path.")
@click.option("--tcp", "tcp_port", type=click.IntRange(0, 65535), default=None,
              help="Serve on this TCP port (0 = a free one); open it as socket://127.0.0.1:PORT. The default.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address for --tcp.")
@click.option("--model", default="MC-100", show_default=True)
@click.option("--serial", "serial_number", default="SIM0001", show_default=True)
@click.option("--firmware", default="1.0.0", show_default=True)
@click.option("--baud", type=int, default=None, help="Pace the line at this rate (default: unpaced).")
@click.option("--bit-error-rate", type=click.FloatRange(0, 0.1), default=0.0, show_default=True, help="Per bit, both directions.")
@click.option("--drop-rate", type=click.FloatRange(0, 0.1), default=0.0, show_default=True, help="Per byte, both directions.")
@click.option("--rx-buffer", type=click.IntRange(64, 65535), default=256, show_default=True)
@click.option("--no-keygen", is_flag=True, help="A product without on-device key generation (accepts a key from the host).")
@click.option("--store-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the simulated secure store (default: Certbench's data folder).")
@click.option("--dps-ca", "dps_cas", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A CA the instrument trusts for DPS as if built in, e.g. the DPS emulator's CA (repeatable).")
@click.option("--no-register", is_flag=True, help="An instrument without REGISTER (no DPS registration of its own).")
def emulate_instrument(use_pty: bool, tcp_port: int | None, host: str, model: str, serial_number: str, firmware: str,
                       baud: int | None, bit_error_rate: float, drop_rate: float, rx_buffer: int, no_keygen: bool,
                       store_dir: Path | None, dps_cas: tuple[Path, ...], no_register: bool) -> None:
    """Run a simulated instrument until Ctrl+C; prints where to connect."""
    from certbench.core.emulators.instrument import LineConfig, SimulatedInstrument

    if use_pty and tcp_port is not None:
        raise InputError("Choose either --pty or --tcp, not both.")
    if use_pty and sys.platform == "win32":
        raise InputError("Pseudo-terminals do not exist on Windows.", "Use --tcp and open socket://127.0.0.1:PORT.")
    if not host.startswith("127."):
        raise ConfigError(f"The simulator listens on loopback only, not {host}.", "Use a 127.x.x.x address.")
    from certbench.core import secrets

    if not secrets.keyring_usable():
        # The simulated secure store encrypts its key with a passphrase from the keyring; on a
        # machine without one, keep it for this run only rather than failing every KEYGEN.
        secrets.use_memory_keyring()
        click.echo("Note: no OS keyring here; the simulated instrument's keys last only until it stops.", err=True)
    registrar = None
    if not no_register:
        from certbench.core.emulators.instrument.register import DpsRegistrar
        from certbench.core.x509.parse import load_certificate_file

        registrar = DpsRegistrar([c for path in dps_cas for c in load_certificate_file(path)])
    sim = SimulatedInstrument(
        model, serial_number, firmware, store_dir, keygen=not no_keygen, rx_buffer=rx_buffer,
        max_frame=min(256, rx_buffer), line=LineConfig(baud=baud, bit_error_rate=bit_error_rate, drop_rate=drop_rate),
        register_handler=registrar,
    )
    try:
        if use_pty:
            where = sim.serve_pty()
        else:
            try:
                where = sim.serve_tcp(host, tcp_port or 0)
            except OSError as exc:
                raise ConfigError(f"The simulator cannot listen on {host}:{tcp_port} ({exc.strerror or exc}).",
                                  "Choose another port, or 0 for a free one.") from None
        click.echo(f"port: {where}")
        click.echo(f"instrument: {model} serial {serial_number} firmware {firmware}"
                   f" ({'on-device keygen' if not no_keygen else 'key from host'})")
        click.echo(f"try: certbench instrument hello --port {where}" + (f" --baud {baud}" if baud else ""))
        serve_until_interrupted()
    finally:
        sim.close()
