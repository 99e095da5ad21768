"""`certbench self-test` (also `certbench --self-test`): the installation checks itself;
IT runs it after deployment. Exit code 0 when every item passed, 1 otherwise."""

from __future__ import annotations

import click
from rich.table import Table

from certbench.core.cli.output import console, json_option, print_json


def _names() -> list[str]:
    from certbench.core.selftest import CHECKS

    return [name for name, _title, _fn in CHECKS]


@click.command("self-test")
@click.option("--only", multiple=True, metavar="CHECK", help="Run only this check (repeatable).")
@click.option("--skip", multiple=True, metavar="CHECK", help="Leave this check out (repeatable).")
@json_option
def self_test(only: tuple[str, ...], skip: tuple[str, ...], as_json: bool) -> int:
    """Check this installation: Qt, crypto, shipped files, keyring, folders, settings.

    Checks: qt, crypto, resources, components, migrations, keyring, folders, settings.
    """
    from certbench.core.errors import InputError
    from certbench.core.selftest import run_checks

    known = _names()
    unknown = sorted((set(only) | set(skip)) - set(known))
    if unknown:
        raise InputError(f"Unknown check(s): {', '.join(unknown)}.", f"Choose from: {', '.join(known)}.")
    report = run_checks(list(only) or None, list(skip) or None)
    if as_json:
        print_json(report.to_dict())
    else:
        frozen = "installed build" if report.frozen else "source install"
        console.print(f"[bold]Certbench {report.version} self-test[/] [dim]({frozen}, {report.executable})[/]")
        table = Table("Check", "Result", "Details", show_lines=False)
        for check in report.checks:
            result = "[green]PASS[/]" if check.ok else "[bold red]FAIL[/]"
            details = check.detail if check.ok or not check.hint else f"{check.detail}\n[yellow]What to do:[/] {check.hint}"
            table.add_row(check.title, result, details)
        console.print(table)
        failed = [c for c in report.checks if not c.ok]
        if failed:
            console.print(f"[bold red]{len(failed)} of {len(report.checks)} checks failed.[/]")
        else:
            console.print(f"[green]All {len(report.checks)} checks passed.[/]")
    return 0 if report.ok else 1
