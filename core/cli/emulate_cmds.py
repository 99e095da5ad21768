"""`certbench emulate ...`: run an emulator standalone (each emulator module adds its
subcommand to this group)."""

from __future__ import annotations

import click


@click.group()
def emulate() -> None:
    """Run the IoT Central, Sectigo, DPS emulators or a simulated instrument on this machine."""
