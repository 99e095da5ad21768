"""What a barcode scan means: a plain serial number, a GS1 UDI or a HIBC UDI.

`interpret_scan(text, settings)` takes one scan as the scanner sent it (symbology identifier,
FNC1 as ASCII 29 and all) and returns a `ScanResult`, or raises `ScanError` (a label we cannot
use, with the reason) or `NamingError` (a serial number that could never be part of a device
name). The product model comes from the product catalogue: the GTIN (GS1) or the labeler code
+ product number (HIBC) selects it. A plain serial number carries no product: `model` is
None and the caller supplies the model (the technician picks it), see `ScanResult.common_name`.

A split HIBC label (product barcode + separate lot/serial barcode) takes two scans:
`ScanAssembler` (or `interpret_scans`) joins them after checking their link character.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from biip import BiipException
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.symbology import GS1Symbology, SymbologyIdentifier

from certbench.core.config import Settings
from certbench.core.naming.errors import RESCAN_HINT, ScanError
from certbench.core.naming.hibc import HibcLabel, combine, parse_hibc
from certbench.core.naming.policy import ALLOWED, MAX_CN_LENGTH, CnTemplate, NamingError

GS = "\x1d"
_SYMBOLOGY = re.compile(r"\][A-Za-z][0-9A-Za-z]")
# Code 39 read with its Mod 43 character checked and stripped by the scanner (AIM modifiers).
_CHECK_STRIPPED = {"]A3", "]A7"}
_HRI = re.compile(r"\(\d{2,4}\)")
_GS1_HINT = (
    "Scan the label again. If it keeps failing, check that the scanner sends the FNC1 separator "
    "(ASCII 29, 'GS') between fields and the symbology identifier (see docs/scanning.md)."
)

Kind = Literal["plain", "gs1", "hibc"]


@dataclass(frozen=True)
class ScanResult:
    kind: Kind
    serial: str
    model: str | None
    gtin: str | None = None
    lot: str | None = None
    production_date: dt.date | None = None
    expiry_date: dt.date | None = None
    raw: str = ""
    symbology: str | None = None
    hibc_code: str | None = None

    def common_name(self, template: CnTemplate, model: str | None = None) -> str:
        """The CN for this unit. `model` is required for a plain serial; for a UDI label it
        may be given only if it agrees with the label."""
        chosen = model.strip() if model else None
        if self.model is not None and chosen is not None and chosen.casefold() != self.model.casefold():
            raise ScanError(
                f"The label says the unit is a {self.model}, but {chosen} was chosen.",
                "Choose the product the label names, or check that this is the right unit.",
                reason="mismatch",
            )
        final = self.model or chosen
        if not final:
            raise ScanError(
                f"The serial number '{self.serial}' was scanned without a product label.",
                "Choose the product model for this unit, or scan its UDI label instead.",
                reason="no-product",
            )
        return template.render(model=final, serial=self.serial, gtin=self.gtin or "", lot=self.lot or "")


def check_serial(serial: str) -> None:
    """Refuse a serial number that can never be part of a device name (NamingError wording)."""
    if not serial:
        raise NamingError("The serial number is empty.", "Scan the unit's serial-number label again.", rule="empty")
    folded = serial.casefold()
    for index, ch in enumerate(folded):
        if ch not in ALLOWED:
            raise NamingError(
                f"The serial number '{serial}' contains {_describe(serial[index])} at position {index + 1}.",
                "A device name may hold only letters, digits and '-': check the label, or ask for the "
                "unit to be relabelled if its serial number really contains this character.",
                rule="character",
                position=index + 1,
            )
    if len(folded) > MAX_CN_LENGTH:
        raise NamingError(
            f"The serial number '{serial}' is {len(serial)} characters long; a device name holds at most {MAX_CN_LENGTH}.",
            "Check the label: this looks like more than a serial number.",
            rule="length",
            position=MAX_CN_LENGTH + 1,
        )


def _describe(ch: str) -> str:
    if ch == " ":
        return "a space"
    if ch == GS:
        return "a field separator (GS)"
    return f"'{ch}'" if ch.isprintable() else f"the control character U+{ord(ch):04X}"


# -- entry points ------------------------------------------------------------------------------


def interpret_scan(text: str, settings: Settings) -> ScanResult:
    """One complete scan -> ScanResult; ScanError/NamingError when it cannot name a unit."""
    raw = text
    data = text.strip("\r\n").lstrip()
    symbology = None
    match = _SYMBOLOGY.match(data)
    if match:
        symbology, data = match.group(), data[match.end() :]
    if data.startswith("+") or data.startswith("*+"):
        # Trailing spaces stay: a space is a valid HIBC check character.
        label = parse_hibc(data.rstrip("\r\n"), check_verified_by_reader=symbology in _CHECK_STRIPPED)
        return _from_hibc(label, settings, raw, symbology)
    data = data.rstrip().lstrip(GS)  # a leading GS is FNC1 in first position
    if not data:
        raise ScanError("The scan is empty.", "Scan the label again.", reason="unparseable")
    if _gs1_symbology(symbology) in GS1Symbology.with_gtin():
        raise _product_barcode(data, settings)
    gs1 = _gs1_elements(data, symbology)
    if gs1 is not None:
        return _from_gs1(gs1, settings, raw, symbology)
    return _plain(data, settings, raw, symbology)


def interpret_scans(texts: Iterable[str], settings: Settings) -> ScanResult:
    """Several scans of one unit (a split HIBC label: product barcode and lot/serial barcode)."""
    assembler = ScanAssembler(settings)
    result = None
    for text in texts:
        result = assembler.feed(text)
    if result is None:
        raise assembler.incomplete_error()
    return result


class ScanAssembler:
    """Feeds scans one by one; joins the two halves of a split HIBC label.

    `feed()` returns a ScanResult when a unit is fully identified, None while waiting for the
    other half of a split label. A scan of the same half again replaces the waiting one.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pending: ScanError | None = None
        self._pending_raw = ""

    @property
    def waiting_for(self) -> str | None:
        """'secondary' (lot/serial barcode), 'primary' (product barcode) or None."""
        if self._pending is None:
            return None
        label: HibcLabel = self._pending.partial  # type: ignore[assignment]
        return "secondary" if label.primary is not None else "primary"

    def reset(self) -> None:
        self._pending = None

    def incomplete_error(self) -> ScanError:
        if self._pending is not None:
            return self._pending
        return ScanError("Nothing was scanned.", "Scan the unit's label.", reason="incomplete")

    def feed(self, text: str) -> ScanResult | None:
        try:
            result = interpret_scan(text, self._settings)
        except ScanError as exc:
            if exc.reason != "incomplete":
                raise
            if self._pending is None or self.waiting_for == _half(exc.partial):  # type: ignore[arg-type]
                self._pending, self._pending_raw = exc, text
                return None
            first: HibcLabel = self._pending.partial  # type: ignore[assignment]
            raw = self._pending_raw + "\n" + text
            self._pending = None
            joined = combine(first, exc.partial)  # type: ignore[arg-type]
            return _from_hibc(joined, self._settings, raw, None)
        self._pending = None
        return result


def _half(label: HibcLabel) -> str:
    # The half this label is *missing*, comparable with waiting_for.
    return "secondary" if label.primary is not None else "primary"


# -- plain serial numbers -----------------------------------------------------------------------


def _plain(data: str, settings: Settings, raw: str, symbology: str | None) -> ScanResult:
    noise = [ch for ch in data if not ch.isprintable()]
    if noise:
        raise ScanError(
            f"The scan contains {_describe(noise[0])} and is not a serial number or a label we can read.",
            "This is usually a misread or line noise. " + RESCAN_HINT,
            reason="unparseable",
        )
    if data.isdigit() and len(data) in (8, 12, 13, 14):
        # A serial number may look like a GTIN; only a catalogue GTIN is taken for one.
        try:
            gtin = Gtin.parse(data).as_gtin_14()
        except BiipException:
            gtin = None
        if gtin is not None and settings.product_for_gtin(gtin) is not None:
            raise _product_barcode(data, settings)
    check_serial(data)
    return ScanResult("plain", data, None, raw=raw, symbology=symbology)


def _product_barcode(data: str, settings: Settings) -> ScanError:
    """An EAN/UPC/ITF-14 product barcode: a GTIN and nothing else."""
    try:
        parsed = Gtin.parse(data)
    except BiipException as exc:
        damaged = "check digit" in str(exc)
        return ScanError(
            f"The product barcode '{data}' is not a valid GTIN"
            + (": its check digit is wrong, the label is damaged or was misread." if damaged else "."),
            RESCAN_HINT,
            reason="damaged" if damaged else "syntax",
        )
    gtin = parsed.as_gtin_14()
    product = settings.product_for_gtin(gtin)
    if product is None:
        return _unknown_gtin(parsed, gtin, settings)
    return ScanError(
        f"This is the product barcode of {product.model} (GTIN {gtin}); it has no serial number.",
        "Scan the unit's UDI label (the 2D code with the serial number) or its serial-number label.",
        reason="no-serial",
    )


def _gs1_symbology(symbology: str | None) -> GS1Symbology | None:
    if symbology is None:
        return None
    try:
        return SymbologyIdentifier.extract(symbology).gs1_symbology
    except BiipException:
        return None


# -- GS1 -----------------------------------------------------------------------------------------


def _gs1_elements(data: str, symbology: str | None):  # -> GS1ElementStrings | None
    """The element strings if this scan is GS1 data; None if it is not GS1 at all."""
    is_gs1_symbology = _gs1_symbology(symbology) in GS1Symbology.with_gs1_messages()
    try:
        if data.lower().startswith(("http://", "https://")):
            return GS1DigitalLinkURI.parse(data).element_strings
        if _HRI.match(data):
            return GS1Message.parse_hri(data).element_strings
        if is_gs1_symbology:
            return GS1Message.parse(data).element_strings
    except (BiipException, ValueError) as exc:
        if data.lower().startswith(("http://", "https://")):
            raise ScanError(
                f"The scan is a web address that is not a GS1 Digital Link UDI: {data[:80]}",
                "Scan the unit's UDI label; a QR code with a web link is not a unit identity.",
                reason="unparseable",
            ) from None
        message, reason = _explain_biip(str(exc))
        raise ScanError(f"The scan looks like a GS1 label but cannot be read: {message}", _GS1_HINT, reason=reason) from None
    # No GS1 symbology identifier (the scanner does not send one): GS1 only if the data
    # unmistakably is an element string starting with a GTIN (01) whose check digit holds,
    # or is split into fields by GS; anything else is a plain serial number.
    if not data[:1].isdigit():
        return None
    try:
        elements = GS1Message.parse(data).element_strings
    except (BiipException, ValueError):
        if GS in data:
            raise ScanError("The scan looks like a GS1 label but cannot be read.", _GS1_HINT, reason="syntax") from None
        return None
    first = elements[0] if elements else None
    if first is not None and first.ai.ai == "01" and (first.gtin is not None or GS in data or len(elements) > 1):
        return elements
    if GS in data:
        return elements
    return None


_DATE_AIS = ("11", "12", "13", "15", "16", "17")


def _explain_biip(error: str) -> tuple[str, str]:
    """biip's messages name regular expressions; say the same in a technician's words."""
    if m := re.match(r"Failed to match '(\d{2,4}?)(.*)' with GS1 AI \((\d+)\)", error, re.S):
        ai = m[3]
        value = error[len("Failed to match '") + len(ai) :].split("' with GS1 AI", 1)[0]
        if ai in _DATE_AIS:
            return f"the date in field ({ai}) '{value}' is not a valid YYMMDD date.", "date"
        return f"field ({ai}) holds '{value}', which does not fit that field's format.", "syntax"
    if m := re.match(r"Failed to parse GS1 AI \((\d+)\) date/time from '(.*)'", error, re.S):
        return f"the date in field ({m[1]}) '{m[2]}' is not a calendar date.", "date"
    if m := re.match(r"Failed to get GS1 Application Identifier from '(.*)'", error, re.S):
        rest = m[1]
        return f"'{rest[:30]}' does not start with a known GS1 field number (AI).", "syntax"
    return error, "syntax"


def _from_gs1(elements, settings: Settings, raw: str, symbology: str | None) -> ScanResult:
    values: dict[str, object] = {}
    for element in elements:
        ai = element.ai.ai
        value = element.date if ai in ("11", "17") else element.value
        if ai in values and values[ai] != value:
            raise ScanError(
                f"The GS1 label holds two different values for ({ai}) {element.ai.data_title}: "
                f"'{_text(values[ai])}' and '{_text(value)}'.",
                "The label is inconsistent; set the unit aside and report the label to the labeling team.",
                reason="conflict",
            )
        values[ai] = value
    gtin_element = next((e for e in elements if e.ai.ai == "01"), None)
    if gtin_element is None:
        what = "a shipping label (SSCC)" if "00" in values else "not a product label"
        raise ScanError(
            f"The GS1 label has no GTIN (01): it is {what}.",
            "Scan the unit's own UDI label, which starts with (01) and holds the serial number (21).",
            reason="no-product",
        )
    if gtin_element.gtin is None:
        error = gtin_element.gtin_error or ""
        if "check digit" in error:
            raise ScanError(
                f"The GTIN {gtin_element.value} on the label has a wrong check digit: the label is damaged or was misread.",
                RESCAN_HINT,
                reason="damaged",
            )
        raise ScanError(f"The GTIN '{gtin_element.value}' on the label is not valid: {error}", RESCAN_HINT, reason="syntax")
    gtin = gtin_element.gtin.as_gtin_14()
    product = settings.product_for_gtin(gtin)
    if product is None:
        raise _unknown_gtin(gtin_element.gtin, gtin, settings)
    serial = values.get("21")
    if not serial:
        raise ScanError(
            f"The GS1 label of {product.model} (GTIN {gtin}) has no serial number (21).",
            "This is a product or box label. Scan the unit's own UDI label, which holds (21).",
            reason="no-serial",
        )
    assert isinstance(serial, str)
    check_serial(serial)
    lot = values.get("10")
    return ScanResult(
        "gs1",
        serial,
        product.model,
        gtin=gtin,
        lot=lot if isinstance(lot, str) else None,
        production_date=_date(values.get("11")),
        expiry_date=_date(values.get("17")),
        raw=raw,
        symbology=symbology,
    )


def _unknown_gtin(parsed: Gtin, gtin: str, settings: Settings) -> ScanError:
    ours = {_company(Gtin.parse(g)) for p in settings.products for g in p.gtins} - {None}
    company = _company(parsed)
    if company is not None and company in ours:
        return ScanError(
            f"GTIN {gtin} carries our company prefix {company}, but it is not in the product catalogue.",
            "If this is a new product, add its GTIN to the product in Settings > Products; otherwise check the label.",
            reason="unknown-product",
        )
    known = ", ".join(g for p in settings.products for g in p.gtins) or "none"
    return ScanError(
        f"This label is not one of ours: GTIN {gtin} is not in the product catalogue"
        + (f" (company prefix {company})." if company else "."),
        f"Scan the unit's own MediCorp UDI label. GTINs in the catalogue: {known}.",
        reason="not-ours",
    )


def _company(gtin: Gtin) -> str | None:
    return gtin.company_prefix.value if gtin.company_prefix else None


def _date(value: object) -> dt.date | None:
    return value if isinstance(value, dt.date) else None


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


# -- HIBC ----------------------------------------------------------------------------------------


def _from_hibc(label: HibcLabel, settings: Settings, raw: str, symbology: str | None) -> ScanResult:
    if label.primary is None:
        raise ScanError(
            "This is the lot/serial barcode of a split HIBC label; the product barcode is still needed.",
            "Scan the unit's HIBC product barcode (it starts with the labeler code) as well.",
            reason="incomplete",
            partial=label,
        )
    if label.secondary is None:
        raise ScanError(
            f"This is the HIBC product barcode ({label.primary.code}) without a lot or serial number.",
            "Scan the unit's second HIBC barcode (lot/serial) as well.",
            reason="incomplete",
            partial=label,
        )
    code = label.primary.code
    product = settings.product_for_hibc(code)
    if product is None:
        ours = {c[:4] for p in settings.products for c in p.hibc_codes}
        if label.primary.lic in ours:
            raise ScanError(
                f"HIBC product {code} carries our labeler code {label.primary.lic}, but it is not in the product catalogue.",
                "If this is a new product, add its HIBC code to the product in Settings > Products; otherwise check the label.",
                reason="unknown-product",
            )
        known = ", ".join(c for p in settings.products for c in p.hibc_codes) or "none"
        raise ScanError(
            f"This label is not one of ours: HIBC labeler {label.primary.lic}, product {label.primary.pcn} "
            f"({code}) is not in the product catalogue.",
            f"Scan the unit's own MediCorp UDI label. HIBC codes in the catalogue: {known}.",
            reason="not-ours",
        )
    secondary = label.secondary
    if not secondary.serial:
        raise ScanError(
            f"The HIBC label of {product.model} ({code}) has no serial number"
            + (f", only lot {secondary.lot}." if secondary.lot else "."),
            "This is a product or box label. Scan the unit's own UDI label, which holds the serial number.",
            reason="no-serial",
        )
    check_serial(secondary.serial)
    return ScanResult(
        "hibc",
        secondary.serial,
        product.model,
        lot=secondary.lot,
        production_date=secondary.production_date,
        expiry_date=secondary.expiry_date,
        raw=raw,
        symbology=symbology,
        hibc_code=code,
    )


__all__ = ["ScanAssembler", "ScanError", "ScanResult", "check_serial", "interpret_scan", "interpret_scans"]
