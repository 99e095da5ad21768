"""`certbench gui` opens the desktop application; `certbench demo` runs the whole bench job on
built-in emulators and simulated instruments in a throw-away folder, with nothing to configure
(docs/demo.md)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from certbench.core.cli.output import console, json_option, print_json
from certbench.core.demo import DemoHome
from certbench.core.demo_run import DEFAULT_PARALLEL, DEFAULT_UNITS


@click.command()
@click.option("--demo", is_flag=True, help="Run on the built-in emulators and simulated instruments.")
def gui(demo: bool) -> None:
    """Open the Certbench window."""
    from certbench.gui.app import main as gui_main

    return gui_main(["--demo"] if demo else [])


@click.command()
@click.option("--units", default=DEFAULT_UNITS, show_default=True, type=click.IntRange(1, 10000),
              help="Units to provision.")
@click.option("--parallel", default=DEFAULT_PARALLEL, show_default=True, type=click.IntRange(1, 64),
              help="Instruments driven at once.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the demo's files in this folder.")
@json_option
def demo(units: int, parallel: int, keep: Path | None, as_json: bool) -> None:
    """The whole bench job on built-in emulators: IoT Central, Sectigo and DPS run in this
    process, simulated instruments stand on the bench; N units are scanned, keyed, certified,
    written, proven and registered, P at a time. Exit status 1 if any unit failed."""
    import threading
    import time

    from certbench.core.demo import DemoServices
    from certbench.core.demo_run import run_demo

    stop = threading.Event()
    with DemoHome(keep) as home:
        started = time.monotonic()
        if not as_json:
            console.print(f"[bold]Certbench demo[/]: {units} unit(s), {parallel} at a time "
                          f"[dim](folder {home}{'' if keep else ', removed afterwards'})[/]")
            console.print("[dim]Starting the IoT Central, Sectigo and DPS emulators; verifying four intermediates...[/]")
        with DemoServices() as services:
            setup = time.monotonic() - started
            if not as_json:
                console.print(f"[dim]Ready in {setup:.1f} s: intermediates {', '.join(services.verified)} verified in "
                              f"IoT Central; DPS at {services.settings.dps.host}.[/]")
            try:
                report = run_demo(services, units, parallel=parallel, on_unit=None if as_json else _print_unit,
                                  stop=stop, setup_seconds=setup)
            except KeyboardInterrupt:
                raise click.Abort() from None
    if as_json:
        print_json({"home": str(home), "kept": keep is not None, "units": [u.to_dict() for u in report.units],
                    "summary": report.summary()})
    else:
        _print_summary(report)
    if report.failed or len(report.units) < units:
        raise SystemExit(1)


def _print_unit(unit) -> None:
    if unit.ok:
        registered = "registered" if unit.registered else f"[yellow]not registered[/] ({unit.registration})"
        console.print(f"[green]done[/] {unit.index:>4}  {unit.cn:<18} {unit.model:<5} {unit.key_origin:<11} key  "
                      f"order {unit.order_id:<5} sha256 {unit.sha256[:12]}  {registered}  {unit.seconds:.2f} s",
                      soft_wrap=True)
    else:
        console.print(f"[red]FAIL[/] {unit.index:>4}  {unit.cn or unit.serial:<18} {unit.model:<5} "
                      f"{unit.reason}  {unit.seconds:.2f} s", soft_wrap=True)


def _print_summary(report) -> None:
    summary = report.summary()
    table = Table("units", "done", "failed", "registered", "time", "units/min", title="Summary")
    table.add_row(str(summary["units"]), f"[green]{summary['done']}[/]",
                  f"[red]{summary['failed']}[/]" if summary["failed"] else "0", str(summary["registered"]),
                  f"{summary['seconds']:.1f} s (+{summary['setup_seconds']:.1f} s set-up)",
                  f"{summary['units_per_minute']:.1f}")
    console.print(table)
    console.print("By product: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_product"].items()))
                  + "; keys made on the " + ", ".join(f"{k} {v}" for k, v in sorted(summary["by_key_origin"].items())))
    for failure in summary["failures"]:
        console.print(f"[red]Failed[/] {failure['model']} {failure['serial']}: {failure['reason']}")
        if failure["hint"]:
            console.print(f"  [yellow]What to do:[/] {failure['hint']}")
