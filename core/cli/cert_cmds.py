"""`certbench cert ...`: look at certificates and check chains, whatever format they come in."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.markup import escape
from rich.table import Table

from certbench.core.cli.output import console, json_option, print_json
from certbench.core.x509.chain import order_chain, validate_client_chain
from certbench.core.x509.inspect import CertSummary, summarize
from certbench.core.x509.parse import load_certificate_file


def summary_table(summary: CertSummary, title: str | None = None) -> Table:
    table = Table(show_header=False, title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    state = "[red]expired[/]" if summary.expired else "[red]not yet valid[/]" if summary.not_yet_valid else (
        f"[green]valid[/], {summary.days_left} days left"
    )
    rows = [
        ("Subject", summary.subject),
        ("Issuer", summary.issuer),
        ("Serial", summary.serial_hex),
        ("Valid", f"{summary.not_before:%Y-%m-%d %H:%M} .. {summary.not_after:%Y-%m-%d %H:%M} UTC ({state})"),
        ("Key", summary.key_description),
        ("SHA-256", summary.sha256_fingerprint),
        ("Thumbprint", f"{summary.sha1_thumbprint}  (SHA-1, as IoT Central shows it)"),
        ("CA", ("yes" + (f", pathLen {summary.path_length}" if summary.path_length is not None else "")) if summary.is_ca else "no"),
        ("Key usage", ", ".join(summary.key_usage) or "-"),
        ("Ext. key usage", ", ".join(summary.extended_key_usage) or "-"),
        ("SKI", summary.subject_key_identifier or "-"),
        ("AKI", summary.authority_key_identifier or "-"),
    ]
    for key, value in rows:
        # Names and extensions come from the certificate: shown as text, never as markup.
        table.add_row(key, value if key == "Valid" else escape(str(value)))
    return table


@click.group()
def cert() -> None:
    """Inspect certificates and verify chains (PEM, DER, PKCS#7, base64)."""


@cert.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def inspect(files: tuple[Path, ...], as_json: bool) -> None:
    """Show what is in certificate FILES: subject, validity, key, fingerprints, extensions."""
    results = []
    for path in files:
        for index, certificate in enumerate(load_certificate_file(path)):
            results.append((path, index, summarize(certificate)))
    if as_json:
        print_json([{"file": str(p), "index": i, **s.to_dict()} for p, i, s in results])
        return
    for path, index, summary in results:
        name = escape(summary.common_name or summary.subject)
        console.print(summary_table(summary, title=f"[bold]{escape(path.name)}[/] #{index + 1}: {name}"))
        console.print()


@cert.command("verify-chain")
@click.argument("leaf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ca", "anchors", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trust anchor(s): a root, or an intermediate (partial chain). Default: the local CA.")
@click.option("--untrusted", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Extra intermediates that are not trusted by themselves.")
@json_option
def verify_chain(leaf: Path, anchors: tuple[Path, ...], untrusted: tuple[Path, ...], as_json: bool) -> int:
    """Check LEAF (and any chain in the same file) for TLS client authentication.

    Exit code 0 when the chain is valid, 1 when it is not (the reason is printed).
    """
    from certbench.core.errors import InputError

    certs = load_certificate_file(leaf)
    extra = [c for p in untrusted for c in load_certificate_file(p)]
    if anchors:
        trusted = [c for p in anchors for c in load_certificate_file(p)]
        anchor_source = ", ".join(str(p) for p in anchors)
    else:
        from certbench.core.config import load_settings
        from certbench.core.pki.local import LocalCA

        # Only read: checking a chain must not create a CA (nor its keyring secret).
        ca = LocalCA.from_settings(load_settings())
        if not ca.exists:
            raise InputError(
                "No trust anchor was given (--ca) and this machine has no local CA to default to.",
                "Give the root or intermediate certificate the chain must lead to with --ca FILE.",
            )
        trusted = load_certificate_file(ca.directory / "root.pem")
        anchor_source = "the local CA root"
    try:
        # A file whose certificates are not one chain is an invalid chain too (exit 1).
        chain = order_chain(certs)
        report = validate_client_chain(chain[0], chain[1:] + extra, trusted)
    except InputError as exc:
        if as_json:
            print_json({"valid": False, "reason": exc.message, "hint": exc.hint})
        else:
            console.print(f"[bold red]INVALID[/] {escape(exc.message)}")
            if exc.hint:
                console.print(f"[yellow]What to do:[/] {escape(exc.hint)}")
        return 1
    names = [summarize(c).common_name or c.subject.rfc4514_string() for c in report.path]
    if as_json:
        print_json({"valid": True, "path": names, "partial_chain": report.partial, "anchors": anchor_source,
                    "warnings": report.warnings})
    else:
        console.print(f"[bold green]VALID[/] for client authentication: {escape(' -> '.join(names))} "
                      f"(trusting {escape(anchor_source)})")
        for warning in report.warnings:
            console.print(f"[yellow]Warning:[/] {escape(warning)}")
    return 0
