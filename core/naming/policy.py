"""The CN / registration-id policy and the CN template.

The leaf's subject CN is the DPS registration id and the IoT Central device id, so it must
satisfy the strictest of their rules (../shared/reference/iot-central-and-dps.md): lowercase
`[a-z0-9-]`, 1 to 64 characters, last character alphanumeric or `-`. Input is case-folded and
trimmed; anything else that breaks a rule is refused with the character and its position,
never silently rewritten, because a silently changed serial number is a traceability error.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from certbench.core.errors import ConfigError, InputError

MAX_CN_LENGTH = 64
ALLOWED = frozenset(string.ascii_lowercase + string.digits + "-")
DEFAULT_TEMPLATE = "{model}-{serial}"
TEMPLATE_FIELDS = ("model", "serial", "gtin", "lot")


class NamingError(InputError):
    """A CN (registration id) that breaks the policy."""

    def __init__(self, message: str, hint: str | None = None, *, rule: str, position: int | None = None):
        super().__init__(message, hint)
        self.rule = rule
        self.position = position


def _describe(ch: str) -> str:
    if ch == " ":
        return "a space"
    if ch.isprintable():
        return f"'{ch}'"
    return f"the control character U+{ord(ch):04X}"


def normalize_cn(text: str) -> str:
    """Case-fold and trim, then check every rule; returns the CN or raises NamingError."""
    cn = text.strip().casefold()
    validate_cn(cn)
    return cn


def validate_cn(cn: str) -> None:
    if not cn:
        raise NamingError(
            "The device name (CN) is empty.",
            "Check that the barcode holds a serial number and the product model is configured.",
            rule="empty",
        )
    bad = [(index, ch) for index, ch in enumerate(cn) if ch not in ALLOWED]
    if bad:
        # Every offending character at once: fixing them one refusal at a time wastes scans.
        index, ch = bad[0]
        hint = "Only lowercase letters a-z, digits 0-9 and '-' are allowed in a device name."
        if all(c.isalpha() and c.lower() in ALLOWED for _, c in bad):
            hint = "Device names are lowercase; normalise the text first (normalize_cn)."
        places = [f"{_describe(c)} at position {i + 1}" for i, c in bad[:5]]
        listed = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " and " + places[-1]
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise NamingError(
            f"The device name '{cn}' contains {listed}{more}.",
            hint,
            rule="character",
            position=index + 1,
        )
    if len(cn) > MAX_CN_LENGTH:
        raise NamingError(
            f"The device name '{cn}' is {len(cn)} characters long; at most {MAX_CN_LENGTH} are allowed.",
            "Shorten the model prefix in the CN template (Settings > Bench) or check the scanned serial.",
            rule="length",
            position=MAX_CN_LENGTH + 1,
        )
    # With the allowed set above, the last character is always alphanumeric or '-'; the
    # check stays so the rule holds if the set is ever widened (e.g. to '.', '_', ':').
    if not (cn[-1].isalnum() or cn[-1] == "-"):
        raise NamingError(
            f"The device name '{cn}' ends with {_describe(cn[-1])}.",
            "The last character must be a letter, a digit or '-'.",
            rule="last-character",
            position=len(cn),
        )


@dataclass(frozen=True)
class CnTemplate:
    """A CN built from unit data, e.g. `{model}-{serial}` -> `mx200-a1b2c3`."""

    pattern: str = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        fields = [name for _, name, _, _ in string.Formatter().parse(self.pattern) if name is not None]
        unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
        if unknown or "serial" not in fields:
            raise ConfigError(
                f"The CN template '{self.pattern}' is not usable"
                + (f": unknown field {{{unknown[0]}}}." if unknown else ": it must contain {serial}."),
                "Use fields " + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS) + "; {serial} is required.",
            )

    def render(self, *, model: str, serial: str, gtin: str = "", lot: str = "") -> str:
        serial = serial.strip()
        if not serial:
            raise NamingError("The serial number is empty.", "Scan the unit's serial-number label again.", rule="empty")
        text = self.pattern.format(model=model.strip(), serial=serial, gtin=gtin.strip(), lot=lot.strip())
        return normalize_cn(text)
