"""`certbench central ...` (IoT Central enrollment groups and devices), `certbench ca verify`
and `ca status` (proof of possession), and `certbench emulate iotcentral`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from certbench.core.cli.ca_cmds import ca
from certbench.core.cli.emulate_cmds import emulate, serve_until_interrupted
from certbench.core.cli.emulator_faults import fault_options
from certbench.core.cli.output import console, err_console, json_option, print_json
from certbench.core.errors import ConfigError, InputError

__all__ = ["ca", "central", "emulate"]


def _settings():
    from certbench.core.config import load_settings

    return load_settings()


def _client(settings):
    from certbench.core.iotcentral import IoTCentralClient

    def on_retry(attempt: int, reason: str, wait: float) -> None:
        # On stderr: --json output on stdout must stay parseable while retries happen.
        err_console.print(f"[dim]IoT Central: {reason}; retrying in {wait:.1f}s (try {attempt + 1})[/]")

    return IoTCentralClient.from_settings(settings.iotcentral, on_retry=on_retry)


def _issuer(settings):
    from certbench.core.pki.factory import issuer_from_settings

    return issuer_from_settings(settings)


def _short(thumbprint: str | None) -> str:
    return f"{thumbprint[:8]}…" if thumbprint else ""


@click.group()
def central() -> None:
    """Azure IoT Central: enrollment groups and devices of the configured application."""


@central.group()
def groups() -> None:
    """Enrollment groups (device connection groups)."""


def _entry_text(group, name: str) -> str:
    entry = group.certificates.get(name)
    if entry is None:
        return "-"
    return f"{_short(entry.sha1_thumbprint)} {'[green]verified[/]' if entry.verified else '[yellow]not verified[/]'}"


@groups.command("list")
@json_option
def groups_list(as_json: bool) -> None:
    """List the application's enrollment groups."""
    settings = _settings()
    with _client(settings) as client:
        items = client.list_groups()
    if as_json:
        print_json([g.to_dict() for g in items])
        return
    table = Table("Id", "Name", "Type", "Enabled", "Attestation", "Primary", "Secondary")
    for g in items:
        table.add_row(g.id, g.display_name, g.type, "yes" if g.enabled else "no", g.attestation_type,
                      _entry_text(g, "primary"), _entry_text(g, "secondary"))
    console.print(table)
    if not items:
        console.print("No enrollment groups yet.")


@groups.command("show")
@click.argument("group_id")
@json_option
def groups_show(group_id: str, as_json: bool) -> None:
    """Show one enrollment group and its certificate entries."""
    with _client(_settings()) as client:
        group = client.get_group(group_id)
    if as_json:
        print_json(group.to_dict())
        return
    table = Table(show_header=False, title=f"Enrollment group {group.id}")
    for label, value in (("Name", group.display_name), ("Type", group.type), ("Enabled", "yes" if group.enabled else "no"),
                         ("Attestation", group.attestation_type), ("ID scope", group.id_scope or ""),
                         ("Etag", group.etag or "")):
        table.add_row(label, value)
    for name in ("primary", "secondary"):
        entry = group.certificates.get(name)
        table.add_row(name.title(), f"{entry.sha1_thumbprint} ({'verified' if entry.verified else 'not verified'})"
                      if entry else "empty")
    console.print(table)


@groups.command("create")
@click.argument("group_id")
@click.option("--name", "display_name", default=None, help="Display name (default: the id).")
@click.option("--type", "group_type", type=click.Choice(["iot", "iotEdge"]), default="iot", show_default=True)
@click.option("--disabled", is_flag=True, help="Create it disabled (devices cannot register yet).")
@json_option
def groups_create(group_id: str, display_name: str | None, group_type: str, disabled: bool, as_json: bool) -> None:
    """Create an X.509 enrollment group."""
    from certbench.core.iotcentral.client import check_group_id

    check_group_id(group_id)
    with _client(_settings()) as client:
        # PUT on an existing group replaces its settings: never let "create" disable or
        # rename a group devices already register through.
        existing = client.find_group(group_id)
        if existing is not None:
            raise InputError(
                f"Enrollment group '{group_id}' already exists ('{existing.display_name}', "
                f"{'enabled' if existing.enabled else 'disabled'}); nothing was changed.",
                f"Choose another id, or look at it with: certbench central groups show {group_id}",
            )
        group = client.create_group(group_id, display_name or group_id, type=group_type, enabled=not disabled)
    if as_json:
        print_json(group.to_dict())
    else:
        console.print(f"Created enrollment group [bold]{group.id}[/] (ID scope {group.id_scope}).")


@central.group()
def devices() -> None:
    """Devices of the application."""


@devices.command("list")
@click.option("--page-size", type=click.IntRange(1, 100), default=None, help="Devices per request (1-100).")
@json_option
def devices_list(page_size: int | None, as_json: bool) -> None:
    """List devices (every page)."""
    with _client(_settings()) as client:
        items = client.list_devices(page_size=page_size)
    if as_json:
        print_json([d.to_dict() for d in items])
        return
    table = Table("Id", "Name", "Provisioned", "Enabled", "Template")
    for d in items:
        table.add_row(d.id, d.display_name, "yes" if d.provisioned else "no", "yes" if d.enabled else "no", d.template or "")
    console.print(table)
    console.print(f"{len(items)} device(s).")


@devices.command("show")
@click.argument("device_id")
@json_option
def devices_show(device_id: str, as_json: bool) -> None:
    """Show one device."""
    with _client(_settings()) as client:
        device = client.get_device(device_id)
    if as_json:
        print_json(device.to_dict())
        return
    table = Table(show_header=False, title=f"Device {device.id}")
    for key, value in device.to_dict().items():
        table.add_row(key, str(value))
    console.print(table)


# -- ca verify / ca status ------------------------------------------------------------------


_MARK = {"started": "[cyan]…[/]", "done": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]"}


@ca.command("verify")
@click.argument("intermediate")
@click.option("--group", "group_id", default=None, help="Enrollment group id (default: the intermediate's setting).")
@click.option("--entry", type=click.Choice(["primary", "secondary"]), default=None,
              help="Certificate entry (default: the intermediate's setting).")
@click.option("--replace", is_flag=True, help="Replace a different certificate already in that entry.")
@json_option
def verify(intermediate: str, group_id: str | None, entry: str | None, replace: bool, as_json: bool) -> None:
    """Prove possession of INTERMEDIATE in IoT Central (upload, code, verification certificate, verify)."""
    from certbench.core.workflows.ca_verification import verify_intermediate

    settings = _settings()
    configured = settings.intermediate(intermediate)
    group_id = group_id or configured.group
    entry = entry or configured.entry
    if not group_id or not entry:
        raise ConfigError(
            f"No enrollment group/entry is configured for '{intermediate}'.",
            "Pass --group ID --entry primary|secondary, or set group and entry for it in Settings.",
        )

    if configured.source == "file":
        from certbench.core.workflows.ca_verification import check_intermediate_certificate

        # A non-CA or expired file is the more useful thing to hear about first.
        check_intermediate_certificate(_file_certificate(configured), intermediate)
        raise ConfigError(
            f"Intermediate '{intermediate}' comes from a file (source = \"file\"): Certbench cannot issue the "
            "verification certificate through it, so it cannot prove possession of it.",
            "Set source = \"sectigo\" (with profile_id and org_id) for it, or prove possession with the tool "
            "that holds its key.",
        )

    def show(event) -> None:
        if not as_json and event.status != "started":
            console.print(f"{_MARK[event.status]} {event.step}: {event.message}")

    with _client(settings) as client:
        outcome = verify_intermediate(
            client, _issuer(settings), intermediate, group=group_id, entry=entry, replace=replace,
            group_display_name=f"MediCorp devices ({group_id})", progress=show,
        )
    if as_json:
        print_json(outcome.to_dict())
    elif outcome.already_verified:
        console.print(f"'{intermediate}' was already verified in {group_id}/{entry}; nothing to do.")
    else:
        console.print(f"[bold green]'{intermediate}' is verified[/] in {group_id}/{entry}.")


def _file_certificate(item):
    """The lowest certificate of an intermediate's file (the file may hold its root too, in
    any order); a file that is not one chain gives its first certificate."""
    from certbench.core.x509.chain import ChainError, order_chain
    from certbench.core.x509.parse import load_certificate_file

    if not item.certificate_file:
        raise ConfigError(f"Intermediate '{item.name}' has no certificate_file.",
                          "Set certificate_file for it in Settings.")
    certs = load_certificate_file(item.certificate_file)
    try:
        return order_chain(certs)[0]
    except ChainError:
        return certs[0]


def _certificate_for(settings):
    issuer = None

    def get(name: str):
        nonlocal issuer
        item = settings.intermediate(name)
        if item.certificate_file:
            return _file_certificate(item)
        if issuer is None:
            issuer = _issuer(settings)
        return issuer.intermediate(name).certificate

    return get


@ca.command("status")
@json_option
def ca_status(as_json: bool) -> int:
    """Where each configured intermediate stands in IoT Central."""
    from certbench.core.workflows.ca_verification import status

    settings = _settings()
    with _client(settings) as client:
        rows = status(client, settings.intermediates, _certificate_for(settings))
    if as_json:
        print_json([r.to_dict() for r in rows])
    else:
        table = Table("Intermediate", "Group", "Entry", "State", "Thumbprint", "Expires", "Note")
        colour = {"verified": "green", "uploaded": "yellow", "not-uploaded": "yellow", "other-certificate": "red",
                  "unknown": "red"}
        for r in rows:
            table.add_row(r.name, r.found_group or r.group, r.found_entry or r.entry,
                          f"[{colour[r.state]}]{r.state}[/]", _short(r.thumbprint),
                          f"{r.not_after:%Y-%m-%d} ({r.days_left} d)" if r.not_after else "", r.problem or "")
        console.print(table)
    return 0 if all(r.verified for r in rows) else 1


# -- emulate iotcentral ------------------------------------------------------------------------


@emulate.command("iotcentral")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 = a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep groups, devices and tokens in this folder (JSON) across restarts.")
@click.option("--rate-limit", type=click.IntRange(1, 10_000), default=None,
              help="Requests per second before 429 without Retry-After, as the service (20/s). Default: no limit.")
@fault_options()
def emulate_iotcentral(port: int, host: str, state_dir: Path | None, rate_limit: int | None, faults: list,
                       retry_after: float | None, latency: float) -> None:
    """Run the IoT Central emulator over HTTPS until Ctrl+C; prints its URL, an API token and its CA file."""
    from certbench.core import paths
    from certbench.core.cli.emulator_faults import apply_faults
    from certbench.core.emulators.iotcentral import start_emulator

    ca_dir = state_dir or paths.data_dir() / "emulators" / "iotcentral"
    try:
        emulator = start_emulator(host=host, port=port, state_dir=state_dir, ca_dir=ca_dir)
    except ValueError as exc:
        raise ConfigError(str(exc), "Use a 127.x.x.x address.") from None
    except OSError as exc:
        raise ConfigError(f"The emulator cannot listen on {host}:{port} ({exc.strerror or exc}).",
                          "Choose another port, or 0 for a free one.") from None
    emulator.app.rate_limit = rate_limit
    armed = apply_faults(emulator.app, faults, retry_after, latency)
    if rate_limit:
        armed.append(f"429 above {rate_limit} requests/s")
    click.echo(f"base_url: {emulator.base_url}")
    click.echo(f"token: {emulator.token}")
    click.echo(f"ca_file: {emulator.ca_file}")
    click.echo(f"id_scope: {emulator.id_scope}")
    click.echo("To use it, put in certbench.toml:")
    click.echo(f'  [iotcentral]\n  base_url = "{emulator.base_url}"\n  ca_file = "{emulator.ca_file.as_posix()}"')
    click.echo("and store the token with: certbench config set-secret iotcentral-api-token")
    for line in armed:
        click.echo(f"fault: {line}")
    try:
        serve_until_interrupted()
    finally:
        emulator.stop()
