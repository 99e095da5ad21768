"""HIBC LIC (Supplier Labeling Standard, ANSI/HIBC 2.x) label data: parse and check.

biip reads GS1 only, so HIBC is parsed here. Sources relied on (see docs/scanning.md):
the HIBC data-structure summary of BWIPP (github.com/bwipp/postscriptbarcode wiki,
"HIBC Data Structures"), HIBCC's own Mod 43 page (hibcc.org/m43/terms.htm) and the
ActiveBarcode Modulo 43 table, the TEC-IT/activePDF HIBC LIC format tables (split labels:
the secondary carries the primary's check character as link character).

Shapes, with `+` the HIBC flag and `C` the Mod 43 check character over everything before it:

    primary only           +LLLLPPPPU C             LIC (letter + 3), PCN (1-18), unit of measure digit
    concatenated           +LLLLPPPPU/SECONDARY[/SUPPLEMENT...]C
    split secondary        +SECONDARY[/SUPPLEMENT...]K C   K = the primary's check character (link)

SECONDARY is one of  `$lot`, `$+serial`, `$$<flag>...lot`, `$$+<flag>...serial`, `YYJJJlot`;
flag 0/1 = MMYY (the flag is the month's first digit), 2 = MMDDYY, 3 = YYMMDD, 4 = YYMMDDHH,
5 = YYJJJ, 6 = YYJJJHH, 7 = no date, 8 = 2-digit quantity, 9 = 5-digit quantity (a quantity
may be followed by a date flag 0-7). SUPPLEMENT: `S<serial>`, `16D<YYYYMMDD>` (manufactured),
`14D<YYYYMMDD>` (expiry), `Q<quantity>`.

Nothing is guessed: a field that does not fit exactly is refused, so a misread label can
never come back as a different, plausible one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace

from certbench.core.naming.errors import RESCAN_HINT, ScanError

CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
_VALUE = {ch: index for index, ch in enumerate(CHARSET)}
MAX_FIELD = 18
_PRIMARY = re.compile(r"([A-Z][A-Z0-9]{3})([A-Z0-9]{1,18})([0-9])")
_FIELD = re.compile(r"[A-Z0-9]*")
_SYNTAX_HINT = "This does not follow the HIBC label format. " + RESCAN_HINT


def check_character(data: str) -> str:
    """The Mod 43 check character of `data` (Code 39 character values, sum modulo 43)."""
    try:
        return CHARSET[sum(_VALUE[ch] for ch in data) % 43]
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the HIBC (Code 39) character set") from None


@dataclass(frozen=True)
class HibcPrimary:
    lic: str
    pcn: str
    unit_of_measure: int

    @property
    def code(self) -> str:
        """LIC + PCN: what the product catalogue lists in `hibc_codes`."""
        return self.lic + self.pcn


@dataclass(frozen=True)
class HibcSecondary:
    lot: str | None = None
    serial: str | None = None
    expiry_date: dt.date | None = None
    production_date: dt.date | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class HibcLabel:
    """One scanned HIBC symbol. `link_character`: for a primary-only symbol, the character its
    split secondary must carry; for a split secondary, the character it carries; else None."""

    data: str
    primary: HibcPrimary | None
    secondary: HibcSecondary | None
    link_character: str | None = None


def _syntax(message: str) -> ScanError:
    return ScanError(message, _SYNTAX_HINT, reason="syntax")


def _describe(ch: str) -> str:
    if ch == " ":
        return "a space"
    return f"'{ch}'" if ch.isprintable() else f"the control character U+{ord(ch):04X}"


def parse_hibc(text: str, *, check_verified_by_reader: bool = False) -> HibcLabel:
    """Parse one HIBC symbol's data (starting with '+'), its symbology identifier removed.

    `check_verified_by_reader`: the scanner checked and stripped the Mod 43 character (Code 39
    symbology identifier `]A3`), so the data ends without it.
    """
    data = text
    if len(data) > 2 and data.startswith("*") and data.endswith("*"):
        # Typed from the printed caption: drop the asterisks; '_' there stands for a space.
        data = data[1:-1]
        if data.endswith("_"):
            data = data[:-1] + " "
    if not data.startswith("+"):
        raise _syntax("A HIBC label starts with '+'.")
    for index, ch in enumerate(data):
        if ch not in _VALUE:
            if ch.islower() and ch.upper() in _VALUE and all(c.upper() in _VALUE for c in data):
                raise ScanError(
                    "The HIBC label was received in lowercase letters; HIBC labels hold capitals only.",
                    "Caps Lock is probably on (a keyboard scanner types through it): switch it off and scan again.",
                    reason="lowercase",
                )
            raise ScanError(
                f"The HIBC label contains {_describe(ch)} at position {index + 1}, which a HIBC label cannot hold.",
                RESCAN_HINT,
                reason="unparseable",
            )
    if check_verified_by_reader:
        body = data[1:]
    else:
        if len(data) < 3:
            raise _syntax(f"The HIBC label '{data}' is too short.")
        expected = check_character(data[:-1])
        if data[-1] != expected:
            raise ScanError(
                f"The HIBC label's check character is {_describe(data[-1])} but its data gives {_describe(expected)}: "
                "the label is damaged or was misread.",
                RESCAN_HINT,
                reason="damaged",
            )
        body = data[1:-1]
    if not body:
        raise _syntax("The HIBC label holds no data.")

    if body[0].isalpha():
        parts = body.split("/")
        match = _PRIMARY.fullmatch(parts[0])
        if not match:
            raise _syntax(
                f"The HIBC primary data '{parts[0]}' is not a labeler code (a letter and 3 letters/digits), "
                "a product number (1-18 letters/digits) and a unit-of-measure digit."
            )
        primary = HibcPrimary(match[1], match[2], int(match[3]))
        if len(parts) == 1:
            return HibcLabel(data, primary, None, link_character=check_character("+" + parts[0]))
        return HibcLabel(data, primary, _parse_secondary(parts[1:], split=False))
    if body[0] == "$" or body[0].isdigit():
        if len(body) < 2:
            raise _syntax("The HIBC secondary label has no data before its link character.")
        # The link character may itself be '/', '$' or '+', so it is cut off before splitting.
        return HibcLabel(data, None, _parse_secondary(body[:-1].split("/"), split=True), link_character=body[-1])
    raise _syntax(f"The HIBC label data starts with {_describe(body[0])}, neither primary nor secondary data.")


def combine(first: HibcLabel, second: HibcLabel) -> HibcLabel:
    """Join a split label's primary and secondary symbols (either order), checking the link."""
    primary, secondary = (first, second) if first.primary is not None else (second, first)
    if primary.primary is None or primary.secondary is not None or secondary.primary is not None:
        raise ScanError(
            "These two HIBC scans are not a product label and its separate lot/serial label.",
            "Scan the product (primary) barcode and then the lot/serial (secondary) barcode of the same unit.",
            reason="mismatch",
        )
    if primary.link_character != secondary.link_character:
        raise ScanError(
            "The two HIBC barcodes do not belong together: the lot/serial barcode's link character "
            f"{_describe(secondary.link_character or '')} does not match the product barcode's "
            f"{_describe(primary.link_character or '')}.",
            "Scan both barcodes from the same unit's label, product barcode first.",
            reason="mismatch",
        )
    return HibcLabel(primary.data + secondary.data, primary.primary, secondary.secondary)


# -- secondary data --------------------------------------------------------------------------


def _parse_secondary(parts: list[str], *, split: bool) -> HibcSecondary:
    if any(not part for part in parts):
        raise _syntax("The HIBC label has an empty field (two '/' in a row, or a '/' at the end).")
    first = parts[0]
    result = HibcSecondary()
    rest = parts
    if first.startswith("$") or re.match(r"\d{5}", first):
        result = _secondary_structure(first)
        rest = parts[1:]
    elif split:
        raise _syntax(f"The HIBC secondary data '{first}' does not start with '$' or a 5-digit date.")
    for part in rest:
        result = _supplement(result, part)
    return result


def _secondary_structure(text: str) -> HibcSecondary:
    expiry: dt.date | None = None
    quantity: int | None = None
    if text.startswith("$$"):
        rest = text[2:]
        is_serial = rest.startswith("+")
        rest = rest[1:] if is_serial else rest
        quantity, expiry, rest = _flagged(rest)
    elif text.startswith("$"):
        rest = text[1:]
        is_serial = rest.startswith("+")
        rest = rest[1:] if is_serial else rest
        if not rest:
            raise _syntax(f"The HIBC field '{text}' announces a {'serial' if is_serial else 'lot'} number but holds none.")
    else:  # YYJJJ + lot of up to 13 characters (the oldest secondary form)
        expiry = _julian(text[:5], None)
        rest, is_serial = text[5:], False
        if len(rest) > 13:
            raise _syntax(f"The lot number '{rest}' after a Julian date is {len(rest)} characters long; at most 13.")
    value = _field(rest, "serial number" if is_serial else "lot number")
    return HibcSecondary(
        lot=None if is_serial else value, serial=value if is_serial else None, expiry_date=expiry, quantity=quantity
    )


def _flagged(rest: str) -> tuple[int | None, dt.date | None, str]:
    if not rest:
        raise _syntax("The HIBC '$$' field has no format digit after it.")
    flag = rest[0]
    quantity = None
    if flag in "89":
        width = 2 if flag == "8" else 5
        digits = rest[1 : 1 + width]
        if len(digits) != width or not digits.isdigit():
            raise _syntax(f"The HIBC quantity after '$${flag}' must be {width} digits, not '{digits}'.")
        quantity = int(digits)
        rest = rest[1 + width :]
        if not rest or rest[0] not in "01234567":
            return quantity, None, rest
        flag = rest[0]
    if flag not in "01234567":
        raise _syntax(f"The HIBC date format digit {_describe(flag)} after '$$' is not one of 0-9.")
    expiry, rest = _date_by_flag(rest)
    return quantity, expiry, rest


_FLAG_WIDTH = {"0": 4, "1": 4, "2": 6, "3": 6, "4": 8, "5": 5, "6": 7, "7": 0}


def _date_by_flag(rest: str) -> tuple[dt.date | None, str]:
    flag = rest[0]
    start = 0 if flag in "01" else 1  # for MMYY the flag is the month's first digit
    width = _FLAG_WIDTH[flag]
    digits = rest[start : start + width]
    if len(digits) != width or (width and not digits.isdigit()):
        raise _syntax(f"The HIBC date after format digit {flag} must be {width} digits, not '{digits}'.")
    remainder = rest[start + width :]
    if flag == "7":
        return None, remainder
    if flag in "01":  # MMYY: an expiry month means its last day
        year, month = 2000 + int(digits[2:]), int(digits[:2])
        if not 1 <= month <= 12:
            raise _date_error(digits, "MMYY")
        return dt.date(year, month, calendar.monthrange(year, month)[1]), remainder
    if flag == "2":
        return _ymd(2000 + int(digits[4:]), int(digits[:2]), int(digits[2:4]), digits, "MMDDYY"), remainder
    if flag in "34":
        if flag == "4" and int(digits[6:]) > 23:
            raise _date_error(digits, "YYMMDDHH")
        return _ymd(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6]), digits, "YYMMDD"), remainder
    # 5, 6: YYJJJ[HH]
    hour = digits[5:] or None
    return _julian(digits[:5], hour), remainder


def _julian(digits: str, hour: str | None) -> dt.date:
    label = "YYJJJHH" if hour else "YYJJJ"
    year, day = 2000 + int(digits[:2]), int(digits[2:])
    if not 1 <= day <= (366 if calendar.isleap(year) else 365) or (hour is not None and int(hour) > 23):
        raise _date_error(digits + (hour or ""), label)
    return dt.date(year, 1, 1) + dt.timedelta(days=day - 1)


def _ymd(year: int, month: int, day: int, digits: str, label: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _date_error(digits, label) from None


def _date_error(digits: str, layout: str) -> ScanError:
    return ScanError(
        f"The HIBC label's date '{digits}' ({layout}) is not a calendar date: the label is damaged or was misread.",
        RESCAN_HINT,
        reason="date",
    )


def _field(value: str, what: str) -> str | None:
    if not value:
        return None
    if not _FIELD.fullmatch(value):
        bad = next(ch for ch in value if not (ch.isdigit() or "A" <= ch <= "Z"))
        raise _syntax(f"The HIBC {what} '{value}' contains {_describe(bad)}; only capitals and digits are allowed.")
    if len(value) > MAX_FIELD:
        raise _syntax(f"The HIBC {what} '{value}' is {len(value)} characters long; at most {MAX_FIELD}.")
    return value


def _supplement(result: HibcSecondary, part: str) -> HibcSecondary:
    if part.startswith("16D") or part.startswith("14D"):
        digits = part[3:]
        if len(digits) != 8 or not digits.isdigit():
            raise _syntax(f"The HIBC date field '/{part}' must hold 8 digits (YYYYMMDD).")
        day = _ymd(int(digits[:4]), int(digits[4:6]), int(digits[6:]), digits, "YYYYMMDD")
        if part.startswith("16D"):
            return _merge(result, "production_date", day, "manufacturing date")
        return _merge(result, "expiry_date", day, "expiry date")
    if part.startswith("S"):
        return _merge(result, "serial", _field(part[1:], "serial number"), "serial number")
    if part.startswith("Q"):
        digits = part[1:]
        if not digits.isdigit() or len(digits) > 5:
            raise _syntax(f"The HIBC quantity field '/{part}' must hold 1 to 5 digits.")
        return _merge(result, "quantity", int(digits), "quantity")
    raise _syntax(f"The HIBC label has a field '/{part}' this bench does not know (known: S, 16D, 14D, Q).")


def _merge(result: HibcSecondary, name: str, value: object, what: str) -> HibcSecondary:
    current = getattr(result, name)
    if value is None:
        raise _syntax(f"The HIBC {what} field is empty.")
    if current is not None and current != value:
        raise ScanError(
            f"The HIBC label holds two different {what}s: '{current}' and '{value}'.",
            "The label is inconsistent; set the unit aside and report the label to the labeling team.",
            reason="conflict",
        )
    return replace(result, **{name: value})


__all__ = ["CHARSET", "HibcLabel", "HibcPrimary", "HibcSecondary", "check_character", "combine", "parse_hibc"]
