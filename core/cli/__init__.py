"""The `certbench` command line. Each command group lives in its own module of this package
and is listed in `_GROUPS`; `main()` assembles them."""

from __future__ import annotations

import importlib
import sys

import click

from certbench.core import __version__
from certbench.core.cli.output import run_guarded

# (module, attribute): each attribute is a click command or group added to the root.
_GROUPS: list[tuple[str, str]] = [
    ("certbench.core.cli.cert_cmds", "cert"),
    ("certbench.core.cli.ca_cmds", "ca"),
    ("certbench.core.cli.config_cmds", "config"),
    ("certbench.core.cli.gui_cmds", "gui"),
    ("certbench.core.cli.registry_cmds", "units"),
    ("certbench.core.cli.registry_cmds", "audit"),
    ("certbench.core.cli.gui_cmds", "demo"),
    ("certbench.core.cli.central_cmds", "central"),  # also adds ca verify|status, emulate iotcentral
    ("certbench.core.cli.central_cmds", "emulate"),
    ("certbench.core.cli.sectigo_cmds", "sectigo"),  # also adds ca fetch, emulate sectigo
    ("certbench.core.cli.dps_cmds", "dps"),  # also adds emulate dps|all
    ("certbench.core.cli.instrument_cmds", "instrument"),  # also adds emulate instrument
    ("certbench.core.cli.selftest_cmds", "self_test"),
    ("certbench.core.cli.unit_cmds", "unit"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="certbench")
def cli() -> None:
    """Certbench: X.509 identities for MediCorp instruments, from CA to bench.

    Exit codes: 0 success; 1 the check or operation failed; 2 wrong usage; 3 bad input
    (file, scan, name); 4 invalid settings; 5 an outside service failed; 6 the instrument
    failed; 7 the OS keyring is unusable; 130 interrupted.
    """


def _assemble() -> click.Group:
    for module_name, attr in _GROUPS:
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        if command.name not in cli.commands:
            cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> None:
    from certbench.core.logs import setup_logging

    # Log records go to the rotating, redacted log file, never as raw lines into a command's
    # output (which scripts parse with --json).
    setup_logging()
    group = _assemble()
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--self-test":
        args = ["self-test", *args[1:]]
    run_guarded(lambda: group.main(args=args, prog_name="certbench", standalone_mode=False))
