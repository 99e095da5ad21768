"""The error a scan that cannot be used is reported with.

`reason` is a short machine-readable tag (the GUI picks an icon by it, tests assert on it);
`message`/`hint` are for the technician, as everywhere in Certbench.
"""

from __future__ import annotations

from certbench.core.errors import InputError

REASONS = frozenset(
    {
        "unparseable",  # line noise, not a label we can read at all
        "damaged",  # a check digit / check character does not match: misread or damaged label
        "syntax",  # looks like GS1/HIBC but breaks the format's rules
        "date",  # a date field that is not a calendar date
        "conflict",  # the same field twice with different values
        "no-serial",  # a valid label without a serial number (a product or box label)
        "no-product",  # a valid label without a GTIN / HIBC primary data
        "not-ours",  # a valid label of another manufacturer
        "unknown-product",  # our manufacturer code, but a GTIN / HIBC code not in the catalogue
        "incomplete",  # one half of a split HIBC label; scan the other half
        "mismatch",  # two halves of a split HIBC label that do not belong together
        "lowercase",  # HIBC data in lowercase: Caps Lock on a keyboard-wedge scanner
    }
)


class ScanError(InputError):
    """A scan that cannot be turned into a unit identity. Nothing was changed."""

    def __init__(self, message: str, hint: str | None = None, *, reason: str, partial: object = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown scan error reason {reason!r}")
        super().__init__(message, hint)
        self.reason = reason
        # For reason "incomplete": the half that was read (a HibcLabel), so a caller can
        # wait for the other half (see scan.ScanAssembler).
        self.partial = partial


class ScannerError(InputError):
    """The barcode scanner device itself failed: port missing, unplugged, unreadable."""


RESCAN_HINT = "Scan the label again, holding the scanner steady; if it keeps failing the label is damaged: type the serial number from the printed text instead."

__all__ = ["REASONS", "RESCAN_HINT", "ScanError", "ScannerError"]
