"""Label builders for the scan tests, written independently of the parsers under test."""

from __future__ import annotations

import datetime as dt

GS = "\x1d"
_SPECIAL = {"-": 36, ".": 37, " ": 38, "$": 39, "/": 40, "+": 41, "%": 42}
_CHARS = {value: ch for ch, value in _SPECIAL.items()}


def mod43(data: str) -> str:
    """Code 39 Mod 43: digits/letters count as their base-36 value, the specials 36..42."""
    total = sum(_SPECIAL[ch] if ch in _SPECIAL else int(ch, 36) for ch in data)
    rest = total % 43
    if rest < 10:
        return str(rest)
    if rest < 36:
        return chr(ord("A") + rest - 10)
    return _CHARS[rest]


def hibc(data: str) -> str:
    """A complete HIBC symbol: the data (starting with '+') and its check character."""
    assert data.startswith("+")
    return data + mod43(data)


def hibc_split(primary: str, secondary: str) -> tuple[str, str]:
    """Primary '+LIC PCN U' and secondary '$...' as two symbols joined by the link character."""
    first = hibc("+" + primary)
    second = hibc("+" + secondary + first[-1])
    return first, second


def gtin14(body13: str) -> str:
    """Append the GS1 mod-10 check digit to 13 digits."""
    assert len(body13) == 13 and body13.isdigit()
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body13))
    return body13 + str((10 - total % 10) % 10)


def yymmdd(day: dt.date) -> str:
    return day.strftime("%y%m%d")
