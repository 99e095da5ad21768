"""`certbench sectigo ...`: Sectigo Certificate Manager (profiles, orders, collect, revoke),
plus `certbench ca fetch` (an intermediate's certificate from Sectigo or a PEM file) and
`certbench emulate sectigo` (the emulator, standalone)."""

from __future__ import annotations

import json
import os
import secrets as _random
from pathlib import Path

import click
from rich.table import Table

from certbench.core.cli.ca_cmds import ca
from certbench.core.cli.emulate_cmds import emulate, serve_until_interrupted
from certbench.core.cli.emulator_faults import fault_options
from certbench.core.cli.output import console, err_console, json_option, print_json
from certbench.core.errors import CertbenchError, ConfigError, InputError

__all__ = ["ca", "emulate", "sectigo"]


def _settings():
    from certbench.core.config import load_settings

    return load_settings()


def _on_retry(attempt: int, reason: str, wait: float) -> None:
    err_console.print(f"[dim]Sectigo: {reason}; retrying in {wait:.1f}s (try {attempt + 1})[/]")


def _client(settings):
    from certbench.core.pki.sectigo.client import SectigoClient

    return SectigoClient.from_settings(settings.sectigo, on_retry=_on_retry)


def _issuer(settings):
    from certbench.core.pki.sectigo.issuer import SectigoIssuer

    shown: set[tuple[str, str]] = set()

    def on_status(order_id: str, status: str) -> None:
        if (order_id, status) not in shown:  # once per state, not once per poll
            shown.add((order_id, status))
            err_console.print(f"Order {order_id}: {status}…")

    return SectigoIssuer.from_settings(settings, client=_client(settings), on_status=on_status)


def _summary(cert) -> dict:
    from certbench.core.x509.inspect import summarize

    return summarize(cert).to_dict()


@click.group()
def sectigo() -> None:
    """Sectigo Certificate Manager: profiles, orders, collecting, revoking."""


@sectigo.command()
@click.option("--org", "org_id", type=int, default=None, help="Only profiles delegated to this organisation id.")
@json_option
def profiles(org_id: int | None, as_json: bool) -> None:
    """List the device certificate profiles (certType ids) of the account."""
    settings = _settings()
    with _client(settings) as client:
        items = client.profiles(org_id)
    bound = {i.profile_id: i.name for i in settings.intermediates if i.source == "sectigo"}
    if as_json:
        print_json([{**p.raw, "intermediate": bound.get(p.id)} for p in items])
        return
    table = Table("Profile id", "Name", "Terms (days)", "Key types", "Intermediate in Settings")
    for p in items:
        keys = "; ".join(f"{k} {', '.join(v)}" for k, v in p.key_types.items())
        table.add_row(str(p.id), p.name, ", ".join(map(str, p.terms)), keys, bound.get(p.id, "-"))
    console.print(table)


def _write_chain(path: Path, issued) -> None:
    from certbench.core.x509.parse import to_pem

    path.write_text(to_pem(issued.chain))


def _print_issued(issued, out: Path | None, as_json: bool) -> None:
    from certbench.core.cli.cert_cmds import summary_table
    from certbench.core.x509.inspect import summarize

    if out:
        _write_chain(out, issued)
    if as_json:
        print_json({"order_id": issued.order_id, "intermediate": issued.intermediate,
                    "certificate": _summary(issued.certificate), "out": out})
        return
    console.print(summary_table(summarize(issued.certificate),
                                title=f"[bold]Collected[/] order {issued.order_id} ({issued.intermediate})"))
    if out:
        console.print(f"Chain (leaf + intermediate) written to {out}")


@sectigo.command()
@click.option("--intermediate", "-i", required=True, help="Intermediate (as named in Settings) to order through.")
@click.option("--csr", "csr_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comment", default="certbench sectigo order", show_default=True)
@click.option("--wait", is_flag=True, help="Collect right away (polls up to [sectigo] poll_limit_seconds).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="With --wait: write the chain as PEM.")
@json_option
def order(intermediate: str, csr_file: Path, comment: str, wait: bool, out: Path | None, as_json: bool) -> None:
    """Order a device certificate for a CSR; prints the order number (collect it later)."""
    from certbench.core.x509.csr import load_csr

    csr = load_csr(csr_file.read_bytes(), source=str(csr_file))
    settings = _settings()
    issuer = _issuer(settings)
    try:
        order_id = issuer.order(intermediate, csr, comment=comment)
        if not wait:
            if as_json:
                print_json({"order_id": order_id, "intermediate": intermediate})
            else:
                console.print(f"Ordered: Sectigo order [bold]{order_id}[/] through {intermediate}.")
                console.print(f"Collect it with: certbench sectigo collect {order_id}")
            return
        err_console.print(f"Ordered: Sectigo order [bold]{order_id}[/]; collecting…")
        _print_issued(issuer.collect(intermediate, order_id), out, as_json)
    finally:
        issuer.close()


@sectigo.command()
@click.argument("order_id")
@click.option("--intermediate", "-i", default=None, help="Needed only for orders this bench did not place.")
@click.option("--no-wait", is_flag=True, help="Do not poll: fail at once if the order is not issued yet.")
@click.option("--format", "fmt", default=None,
              type=click.Choice(["x509", "x509R", "pem", "x509CO", "pemco", "x509IO", "x509IOR", "pemia", "base64", "bin"]),
              help="Save Sectigo's raw answer in this format instead (no checks); needs --out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the chain (leaf + intermediate) as PEM.")
@json_option
def collect(order_id: str, intermediate: str | None, no_wait: bool, fmt: str | None, out: Path | None, as_json: bool) -> None:
    """Collect an order placed earlier, check it, and show it (or save it with --out)."""
    settings = _settings()
    if fmt:
        if not out:
            raise InputError("--format saves Sectigo's raw answer and needs --out FILE.")
        with _client(settings) as client:
            out.write_bytes(client.collect(order_id, fmt))
        console.print(f"Order {order_id} ({fmt}) written to {out}")
        return
    from certbench.core.pki.base import OrderPending

    issuer = _issuer(settings)
    try:
        name = intermediate or issuer.recorded_intermediate(order_id)
        if not name:
            raise InputError(
                f"This bench has no record of Sectigo order {order_id}, so its intermediate is not known.",
                "Pass --intermediate NAME.",
            )
        try:
            issued = issuer.collect(name, order_id, wait=not no_wait)
        except CertbenchError:
            raise  # CollectTimeout is also an OrderPending, with its own message
        except OrderPending as pending:
            raise CertbenchError(
                f"Sectigo order {order_id} is not issued yet ({pending.reason}).",
                f"Nothing is lost: collect it later with `certbench sectigo collect {order_id}`; do not order again.",
            ) from None
        _print_issued(issued, out, as_json)
    finally:
        issuer.close()


@sectigo.command()
@click.argument("order_id")
@json_option
def show(order_id: str, as_json: bool) -> None:
    """Show an order's details as Sectigo records them."""
    with _client(_settings()) as client:
        details = client.details(order_id)
    if as_json:
        print_json(details.raw)
        return
    console.print(f"Order {details.order_id}: {details.status.capitalize()}, CN '{details.common_name}', "
                  f"profile {details.cert_type_id}, term {details.term} days"
                  + (f", serial {details.serial_number}" if details.serial_number else ""))


@sectigo.command("list")
@click.option("--cn", default=None, help="Only orders for this common name.")
@click.option("--status", default=None, help="Requested, Approved, Issued, Declined, Revoked...")
@click.option("--intermediate", "-i", default=None, help="Only orders on this intermediate's profile.")
@click.option("--size", default=50, show_default=True, type=click.IntRange(1, 500))
@json_option
def list_(cn: str | None, status: str | None, intermediate: str | None, size: int, as_json: bool) -> None:
    """List orders (newest last), e.g. to find a unit's order before ordering again."""
    settings = _settings()
    cert_type = settings.intermediate(intermediate).profile_id if intermediate else None
    with _client(settings) as client:
        rows, total = client.list_orders(size=size, common_name=cn, status=status, cert_type_id=cert_type)
    if as_json:
        print_json({"total": total, "orders": [r.raw for r in rows]})
        return
    table = Table("Order", "Status", "Common name", "Profile", "Serial", title=f"{total} order(s)")
    for r in rows:
        table.add_row(r.order_id, r.status.capitalize(), r.common_name or "", str(r.cert_type_id), r.serial_number or "")
    console.print(table)


@sectigo.command()
@click.argument("order_id")
@click.option("--message", default="Approved with certbench", show_default=True)
def approve(order_id: str, message: str) -> None:
    """Approve an order waiting for approval (needs an SCM administrator's login)."""
    with _client(_settings()) as client:
        client.approve(order_id, message)
    console.print(f"Order {order_id} approved.")


@sectigo.command()
@click.argument("order_id")
@click.option("--message", default="Declined with certbench", show_default=True)
def decline(order_id: str, message: str) -> None:
    """Decline an order waiting for approval."""
    with _client(_settings()) as client:
        client.decline(order_id, message)
    console.print(f"Order {order_id} declined.")


@sectigo.command()
@click.option("--order", "order_id", default=None, help="Revoke the certificate of this order.")
@click.option("--serial", default=None, help="Revoke the certificate with this serial number (hex).")
@click.option("--reason", default="superseded", show_default=True,
              type=click.Choice(["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"]))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def revoke(order_id: str | None, serial: str | None, reason: str, yes: bool) -> None:
    """Revoke a certificate by order number or by serial number."""
    from certbench.core.pki.sectigo.client import REVOCATION_REASONS

    if bool(order_id) == bool(serial):
        raise InputError("Give exactly one of --order and --serial.")
    what = f"order {order_id}" if order_id else f"serial {serial}"
    if not yes:
        click.confirm(f"Revoke the certificate of {what} ({reason})? Devices using it stop connecting.", abort=True)
    from certbench.core.pki.sectigo.errors import SectigoRevoked

    with _client(_settings()) as client:
        try:
            if order_id:
                client.revoke_order(order_id, reason_code=REVOCATION_REASONS[reason], reason=reason)
            else:
                client.revoke_serial(serial, reason_code=REVOCATION_REASONS[reason], reason=reason)
        except SectigoRevoked:
            # Asked twice (or after a lost answer): the wanted outcome already holds.
            console.print(f"The certificate of {what} was already revoked; nothing to do.")
            return
    console.print(f"Revoked the certificate of {what}.")


# -- ca fetch -----------------------------------------------------------------------------------


@ca.command()
@click.argument("intermediate")
@click.option("--order", "order_id", default=None, help="Read it from this order (default: the newest issued one).")
@click.option("--file", "pem_file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Import it from this PEM file instead of Sectigo.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also save a copy as PEM here.")
@json_option
def fetch(intermediate: str, order_id: str | None, pem_file: Path | None, out: Path | None, as_json: bool) -> None:
    """Get a Sectigo intermediate's certificate (from an issued order, format x509IO) or import it
    from a PEM file, and keep it for issuing and for proof of possession."""
    from certbench.core.cli.cert_cmds import summary_table
    from certbench.core.x509.inspect import summarize
    from certbench.core.x509.parse import to_pem

    settings = _settings()
    config = settings.intermediate(intermediate)
    if config.source != "sectigo":
        raise ConfigError(f"Intermediate '{intermediate}' has source '{config.source}', not sectigo.",
                          "`ca fetch` is for Sectigo intermediates; the local CA makes its own.")
    issuer = _issuer(settings)
    try:
        info = issuer.import_intermediate(intermediate, pem_file) if pem_file else issuer.fetch_intermediate(intermediate, order_id)
    finally:
        issuer.close()
    if out:
        out.write_text(to_pem([info.certificate, *info.chain_above]))
    if as_json:
        print_json({"intermediate": intermediate, "certificate": _summary(info.certificate), "out": out,
                    "saved": str(issuer.cache_file(intermediate))})
        return
    console.print(summary_table(summarize(info.certificate), title=f"[bold]Intermediate[/] {intermediate}"))
    console.print(f"Kept in {issuer.cache_file(intermediate)}" + (f"; copy written to {out}" if out else ""))


# -- emulate sectigo ----------------------------------------------------------------------------


def _write_client_identity(emulator, path: Path) -> None:
    from certbench.core import secrets
    from certbench.core.x509.keys import encrypt_private_key
    from certbench.core.x509.parse import to_pem

    if path.exists():
        raise InputError(f"{path} already exists.", "Choose another file name; Certbench never overwrites a key.")
    passphrase = _random.token_urlsafe(24)
    secrets.set_secret(secrets.SECTIGO_CLIENT_CERT_PASSPHRASE, passphrase)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_pem([emulator.client_certificate]).encode() + encrypt_private_key(emulator.client_key, passphrase.encode()))


@emulate.command("sectigo")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 = a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the emulator's CA and orders in this folder across restarts.")
@click.option("--pending-collects", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Collects answered 'not ready' before an order is issued.")
@click.option("--client-cert-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a client certificate (encrypted key; passphrase into the keyring) for client-cert sign-in.")
@click.option("--pending-forever", is_flag=True, help="No order is ever issued: collect always answers 'not ready'.")
@fault_options(("pending", "garbage"), " (pending: collect answers 'not ready'; garbage: HTTP 200 with an HTML page)")
@json_option
def emulate_sectigo(port: int, host: str, state_dir: Path | None, pending_collects: int,
                    client_cert_out: Path | None, pending_forever: bool, faults: list, retry_after: float | None,
                    latency: float, as_json: bool) -> None:
    """Run the Sectigo Certificate Manager emulator over HTTPS until Ctrl+C; prints its URL,
    customerUri, login and password, CA file and the profile id of each intermediate."""
    from certbench.core import paths, secrets
    from certbench.core.cli.emulator_faults import apply_faults
    from certbench.core.emulators.sectigo import start_emulator

    if not secrets.keyring_usable():
        if state_dir:
            raise ConfigError("The emulator keeps its CA keys encrypted with a passphrase from the OS keyring, "
                              "and no usable keyring was found, so --state cannot be reused.",
                              "Run without --state, or unlock the keyring.")
        secrets.use_memory_keyring()
    ca_dir = state_dir or paths.data_dir() / "emulators" / "sectigo"
    try:
        emulator = start_emulator(host=host, port=port, state_dir=state_dir, ca_dir=ca_dir,
                                  pending_collects=pending_collects)
    except ValueError as exc:
        raise ConfigError(str(exc), "Use a 127.x.x.x address.") from None
    except OSError as exc:
        raise ConfigError(f"The emulator cannot listen on {host}:{port} ({exc.strerror or exc}).",
                          "Choose another port, or 0 for a free one.") from None
    try:
        if client_cert_out:
            _write_client_identity(emulator, client_cert_out)
        emulator.app.pending_forever = pending_forever
        armed = apply_faults(emulator.app, faults, retry_after, latency)
        if pending_forever:
            armed.append("every order stays pending")
        info = {
            "base_url": emulator.base_url,
            "customer_uri": emulator.customer_uri,
            "login": emulator.login,
            "password": emulator.password,
            "ca_file": str(emulator.ca_file),
            "org_id": emulator.app.org_id,
            "profiles": emulator.profiles(),
            "approval_profile": emulator.app.approval_profile_id,
            "client_cert_login": "certbench-cert-login",
            "client_cert_file": str(client_cert_out) if client_cert_out else None,
            "oauth_token_url": emulator.token_url,
            "oauth_client_id": "certbench",
            "oauth_client_secret": emulator.oauth_client_secret,
            "faults": armed,
        }
        if as_json:
            click.echo(json.dumps(info), nl=True)
        else:
            for key in ("base_url", "customer_uri", "login", "password", "ca_file", "org_id"):
                click.echo(f"{key}: {info[key]}")
            click.echo("profiles (intermediate: profile id):")
            for name, pid in info["profiles"].items():
                click.echo(f"  {name}: {pid}")
            click.echo(f"  (approval required: {info['approval_profile']}, issues from the first intermediate)")
            click.echo(f"client-cert login: {info['client_cert_login']}"
                       + (f" (certificate in {client_cert_out})" if client_cert_out else " (use --client-cert-out)"))
            click.echo(f"oauth2: token URL {info['oauth_token_url']}, client id certbench, secret {info['oauth_client_secret']}")
            click.echo("To use it, put in certbench.toml:")
            click.echo(f'  [sectigo]\n  base_url = "{emulator.base_url}"\n  customer_uri = "{emulator.customer_uri}"\n'
                       f'  login = "{emulator.login}"\n  ca_file = "{Path(emulator.ca_file).as_posix()}"')
            click.echo("and for each intermediate: source = \"sectigo\", profile_id and org_id as above;")
            click.echo("store the password with: certbench config set-secret sectigo-password")
            for line in armed:
                click.echo(f"fault: {line}")
        serve_until_interrupted()
    finally:
        emulator.stop()
