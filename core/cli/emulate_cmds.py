"""`certbench emulate ...`: run an emulator standalone (each emulator module adds its
subcommand to this group)."""

from __future__ import annotations

import click


@click.group()
def emulate() -> None:
    """Run the IoT Central, Sectigo, DPS emulators or a simulated instrument on this machine."""


def serve_until_interrupted() -> None:
    """Block until Ctrl+C (or SIGTERM from a service manager); the caller stops its server."""
    import signal
    import sys
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        # Announced inside the try: whoever reads this line may press Ctrl+C at once.
        click.echo("Serving; press Ctrl+C to stop.")
        sys.stdout.flush()
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
