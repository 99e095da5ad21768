"""`certbench dps register` (the workstation-side registration check) and
`certbench emulate dps|all`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

from certbench.core.cli.emulate_cmds import emulate, serve_until_interrupted
from certbench.core.cli.output import console, json_option, print_json
from certbench.core.errors import ConfigError, InputError

PASSPHRASE_ENV = "CERTBENCH_KEY_PASSPHRASE"
_KEY_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]*PRIVATE KEY)-----.*?-----END \1-----", re.S)


@click.group()
def dps() -> None:
    """Check that a device registers with the Device Provisioning Service."""


def _read_key(path: Path):
    from certbench.core.x509.keys import load_encrypted_private_key

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"The key file '{path}' could not be read ({exc.strerror or exc}).",
                         "Check the file name and that you may read it.") from None
    match = _KEY_BLOCK.search(data)
    if match is None:
        raise InputError(f"'{path}' holds no PEM private key.", "Give the device's encrypted key file (PKCS#8 PEM).")
    if match.group(1) != b"ENCRYPTED PRIVATE KEY":
        raise InputError(f"The key in '{path}' is not encrypted.",
                         "Certbench only reads encrypted keys; encrypt it (PKCS#8 with a passphrase) and try again.")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        passphrase = click.prompt(f"Passphrase for {path.name}", hide_input=True, err=True)
    return load_encrypted_private_key(match.group(0), passphrase.encode())


def _read_ca(path: str) -> str:
    from certbench.core.x509.parse import load_certificate_file, to_pem

    return to_pem(load_certificate_file(path))


@dps.command("register")
@click.option("--chain", "chain_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Device certificate with its intermediate (PEM, DER or PKCS#7).")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=f"The device's encrypted private key (passphrase prompted, or from {PASSPHRASE_ENV}).")
@click.option("--scope", "id_scope", default=None, help="ID scope (default: dps.id_scope from the settings).")
@click.option("--host", default=None, help="DPS host (default: dps.host from the settings).")
@click.option("--ca", "ca_file", default=None, type=click.Path(dir_okay=False),
              help="CA file to trust for the DPS server (default: dps.ca_file, else Azure's roots).")
@click.option("--registration-id", default=None, help="Registration id (default: the certificate's CN).")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 600), help="Seconds to wait.")
@json_option
def register(chain_file: Path, key_file: Path, id_scope: str | None, host: str | None, ca_file: str | None,
             registration_id: str | None, timeout: float, as_json: bool) -> int:
    """Register the device with DPS using the real Azure IoT device client, as the unit will."""
    from certbench.core.config import load_settings
    from certbench.core.dps import register_with_dps
    from certbench.core.x509.parse import load_certificate_file

    settings = load_settings()
    id_scope = id_scope or settings.dps.id_scope
    host = host or settings.dps.host
    if not id_scope:
        raise ConfigError("No DPS ID scope is set.", "Pass --scope, or set dps.id_scope in certbench.toml.")
    ca_file = ca_file or settings.dps.ca_file or None
    chain = load_certificate_file(chain_file)
    key = _read_key(key_file)
    server_ca = _read_ca(ca_file) if ca_file else None
    outcome = register_with_dps(chain, key, registration_id=registration_id, id_scope=id_scope, host=host,
                                server_ca_pem=server_ca, timeout=timeout)
    if as_json:
        print_json(outcome.to_dict())
        return 0 if outcome.ok else 5
    if outcome.ok:
        console.print(f"[green]Registered:[/] {outcome.message}")
        return 0
    outcome.raise_for_failure()
    return 5


# -- emulators --------------------------------------------------------------------------------


def _wait_for_ctrl_c() -> None:
    serve_until_interrupted()


def _start_dps(host: str, state_dir: Path | None, folder: Path):
    from certbench.core.emulators.dps.run import start_dps_with_central

    try:
        return start_dps_with_central(host=host, state_dir=state_dir, ca_dir=folder)
    except ValueError as exc:
        raise ConfigError(str(exc), "Use a 127.x.y.z address, e.g. --host 127.0.0.2.") from None
    except OSError as exc:
        raise ConfigError(f"The DPS emulator cannot listen on {host}:8883 ({exc.strerror or exc}).",
                          "Another DPS emulator may use that address: choose another 127.x.y.z with --host.") from None


def _dps_info(running) -> dict[str, str]:
    central = running.central
    return {
        "dps_host": running.host,
        "id_scope": running.id_scope,
        "dps_ca_file": str(running.ca_file),
        "iotcentral_base_url": central.base_url,
        "iotcentral_token": central.token,
        "iotcentral_ca_file": str(central.ca_file),
    }


def _print_dps(info: dict[str, str]) -> None:
    for key, value in info.items():
        click.echo(f"{key}: {value}")
    click.echo("To use them, put in certbench.toml:")
    click.echo(f'  [dps]\n  host = "{info["dps_host"]}"\n  id_scope = "{info["id_scope"]}"\n'
               f'  ca_file = "{Path(info["dps_ca_file"]).as_posix()}"')
    click.echo(f'  [iotcentral]\n  base_url = "{info["iotcentral_base_url"]}"\n'
               f'  ca_file = "{Path(info["iotcentral_ca_file"]).as_posix()}"')
    click.echo("and store the token with: certbench config set-secret iotcentral-api-token")


_HOST_HELP = "Loopback address for DPS (port 8883 is fixed by the Azure SDK; one emulator per address)."
_STATE_HELP = "Keep IoT Central's groups, devices and tokens in this folder across restarts."


@emulate.command("dps")
@click.option("--host", default="127.0.0.1", show_default=True, help=_HOST_HELP)
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=_STATE_HELP)
@json_option
def emulate_dps(host: str, state_dir: Path | None, as_json: bool) -> None:
    """Run the DPS emulator (MQTT/TLS on HOST:8883) with the IoT Central emulator it decides
    against, until Ctrl+C; prints the DPS host, ID scope and the CA file to trust."""
    from certbench.core import paths

    running = _start_dps(host, state_dir, state_dir or paths.data_dir() / "emulators" / "dps")
    try:
        info = _dps_info(running)
        click.echo(json.dumps(info)) if as_json else _print_dps(info)
        _wait_for_ctrl_c()
    finally:
        running.stop()


@emulate.command("all")
@click.option("--host", default="127.0.0.1", show_default=True, help=_HOST_HELP)
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep IoT Central's (and Sectigo's) state in sub-folders of this folder across restarts.")
@json_option
def emulate_all(host: str, state_dir: Path | None, as_json: bool) -> None:
    """Run IoT Central + DPS, and Sectigo when its emulator is installed, until Ctrl+C."""
    from certbench.core import paths, secrets

    base = state_dir or paths.data_dir() / "emulators"
    running = _start_dps(host, state_dir / "iotcentral" if state_dir else None, base / "dps")
    sectigo = None
    try:
        info: dict[str, object] = dict(_dps_info(running))
        try:
            from certbench.core.emulators.sectigo import start_emulator as start_sectigo
        except ImportError:
            start_sectigo = None
        if start_sectigo is not None:
            if not secrets.keyring_usable():
                secrets.use_memory_keyring()
            sectigo_dir = state_dir / "sectigo" if state_dir else None
            sectigo = start_sectigo(host="127.0.0.1", port=0, state_dir=sectigo_dir, ca_dir=sectigo_dir or base / "sectigo")
            info.update({
                "sectigo_base_url": sectigo.base_url, "sectigo_customer_uri": sectigo.customer_uri,
                "sectigo_login": sectigo.login, "sectigo_password": sectigo.password,
                "sectigo_ca_file": str(sectigo.ca_file), "sectigo_profiles": sectigo.profiles(),
            })
        if as_json:
            click.echo(json.dumps(info))
        else:
            _print_dps({k: v for k, v in info.items() if not k.startswith("sectigo_")})  # type: ignore[misc]
            for key, value in info.items():
                if key.startswith("sectigo_"):
                    click.echo(f"{key}: {value}")
        _wait_for_ctrl_c()
    finally:
        if sectigo is not None:
            sectigo.stop()
        running.stop()
