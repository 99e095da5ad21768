"""Console output shared by every command: rich text for people, `--json` for scripts, and
one place that turns a `CertbenchError` into a message, a hint and an exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

# No emoji codes: a fingerprint such as "C4:CD:C5" would otherwise print a disc for ":CD:".
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_default, ensure_ascii=False))


def fail(message: str, hint: str | None = None, exit_code: int = 1) -> None:
    """Report a failure the way every command does and leave with `exit_code`."""
    # Messages quote settings ("[registry] url") and file contents: print them as text.
    err_console.print(f"[bold red]Error:[/] {escape(message)}")
    if hint:
        err_console.print(f"[yellow]What to do:[/] {escape(hint)}")
    raise SystemExit(exit_code)


def run_guarded(fn: Callable[[], Any]) -> None:
    from certbench.core.errors import CertbenchError

    try:
        result = fn()
    except CertbenchError as exc:
        fail(exc.message, exc.hint, exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        raise SystemExit(130) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: log it, say where
        import logging

        from certbench.core import secrets
        from certbench.core.logs import setup_logging

        path = setup_logging()
        logging.getLogger("certbench.cli").exception("Unexpected error")
        fail(
            f"Unexpected error: {secrets.redact(str(exc)) or type(exc).__name__} ({type(exc).__name__}).",
            f"This is a fault in Certbench. The details are in {path}; send that file to support.",
            70,
        )
    code = result if isinstance(result, int) else 0
    sys.exit(code)
