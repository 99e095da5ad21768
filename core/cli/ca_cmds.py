"""`certbench ca ...`: the intermediate CAs. `ca local` manages the embedded local CA; other
modules add `ca verify`, `ca status` and `ca fetch` to the same group."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from certbench.core.cli.output import console, json_option, print_json
from certbench.core.errors import InputError


@click.group()
def ca() -> None:
    """Intermediate CAs: the local CA, proof of possession in IoT Central, status."""


@ca.group()
def local() -> None:
    """The embedded local CA (demo mode, tests, labs)."""


def _local_ca():
    from certbench.core.config import load_settings
    from certbench.core.pki.local import LocalCA

    return LocalCA.from_settings(load_settings())


def _intermediate_rows(ca_) -> list[dict]:
    from certbench.core.x509.inspect import summarize

    rows = []
    for name in ca_.intermediate_names():
        summary = summarize(ca_.intermediate(name).certificate)
        rows.append(
            {
                "name": name,
                "subject": summary.common_name,
                "not_after": summary.not_after,
                "days_left": summary.days_left,
                "sha1_thumbprint": summary.sha1_thumbprint,
            }
        )
    return rows


@local.command()
@json_option
def init(as_json: bool) -> None:
    """Create the local CA's root and intermediates (if they do not exist yet)."""
    ca_ = _local_ca()
    existed = ca_.exists
    ca_.ensure()
    if as_json:
        print_json({"directory": str(ca_.directory), "created": not existed, "intermediates": _intermediate_rows(ca_)})
        return
    verb = "already existed" if existed else "created"
    console.print(f"Local CA {verb} in {ca_.directory} (keys encrypted; passphrase in the OS keyring).")
    _print_intermediates(ca_)


def _print_intermediates(ca_) -> None:
    table = Table()
    # Names are typed into other commands and the thumbprint is compared with what IoT
    # Central shows: both stay whole on narrow consoles; the other columns wrap.
    table.add_column("Intermediate", no_wrap=True)
    table.add_column("Subject CN")
    table.add_column("Expires")
    table.add_column("Thumbprint (SHA-1)", no_wrap=True)
    for row in _intermediate_rows(ca_):
        table.add_row(row["name"], row["subject"], f"{row['not_after']:%Y-%m-%d} ({row['days_left']} days)", row["sha1_thumbprint"])
    console.print(table)


@local.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the local CA's intermediates."""
    ca_ = _local_ca().ensure()
    if as_json:
        print_json(_intermediate_rows(ca_))
    else:
        _print_intermediates(ca_)


@local.command()
@click.option("--cn", required=True, help="Common name of the new identity (the device id).")
@click.option("--intermediate", "-i", default=None, help="Intermediate to issue through (default: the first).")
@click.option("--key-type", default="ec-p256", show_default=True, help="ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096.")
@click.option("--cert-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the chain (leaf + intermediate) as PEM.")
@click.option("--key-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the private key, encrypted (PKCS#8). The passphrase is asked for, or read from "
                   "the environment variable CERTBENCH_KEY_PASSPHRASE.")
@json_option
def issue(cn: str, intermediate: str | None, key_type: str, cert_out: Path | None, key_out: Path | None, as_json: bool) -> None:
    """Issue a complete identity (key + CSR + certificate) from the local CA.

    The key stays in memory unless --key-out is given, and is then written only encrypted.
    """
    from certbench.core.cli.cert_cmds import summary_table
    from certbench.core.naming import normalize_cn
    from certbench.core.x509.identity import make_identity
    from certbench.core.x509.inspect import summarize
    from certbench.core.x509.keys import KeySpec, encrypt_private_key
    from certbench.core.x509.parse import to_pem

    # Everything that can be refused is checked before a passphrase is asked or a
    # certificate issued, so a refusal leaves nothing behind.
    cn = normalize_cn(cn)
    KeySpec.parse(key_type)
    for path in (cert_out, key_out):
        if path and not path.parent.is_dir():
            raise InputError(f"The folder {path.parent} does not exist.", "Create it first, or choose another file name.")
    if key_out and key_out.exists():
        raise InputError(f"{key_out} already exists.", "Choose another file name; Certbench never overwrites a key.")
    ca_ = _local_ca().ensure()
    intermediate = intermediate or ca_.intermediate_names()[0]
    ca_.intermediate(intermediate)  # an unknown name is refused here, naming the known ones
    passphrase = None
    if key_out:
        passphrase = os.environ.get("CERTBENCH_KEY_PASSPHRASE") or click.prompt(
            "Passphrase for the key file", hide_input=True, confirmation_prompt=True
        )
    identity = make_identity(cn, key_type)
    issued = ca_.issue(intermediate, identity.csr, comment="certbench ca local issue")
    _write_outputs(to_pem(issued.chain), cert_out, key_out,
                   encrypt_private_key(identity.key, passphrase.encode()) if key_out and passphrase else None)
    summary = summarize(issued.certificate)
    if as_json:
        print_json({"order_id": issued.order_id, "intermediate": intermediate, "certificate": summary.to_dict(),
                    "cert_out": cert_out, "key_out": key_out})
        return
    console.print(summary_table(summary, title=f"[bold]Issued[/] {cn} through {intermediate} (order {issued.order_id})"))
    if cert_out:
        console.print(f"Chain written to {cert_out}")
    if key_out:
        console.print(f"Encrypted key written to {key_out}")
    if not key_out:
        console.print("[dim]The private key was not saved (pass --key-out to keep it, encrypted).[/]")


def _write_outputs(chain_pem: str, cert_out: Path | None, key_out: Path | None, encrypted_key: bytes | None) -> None:
    """Write the key (new file only, owner-only) and the chain; on failure leave neither."""
    written: list[Path] = []
    target = None
    try:
        if key_out and encrypted_key:
            target = key_out
            fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written.append(key_out)
            with os.fdopen(fd, "wb") as handle:
                handle.write(encrypted_key)
        if cert_out:
            target = cert_out
            cert_out.write_text(chain_pem)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise InputError(f"Could not write {target}: {exc.strerror or exc}.",
                         "Choose a file in a folder you can write to; nothing was saved.") from None
