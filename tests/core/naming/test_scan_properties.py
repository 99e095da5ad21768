"""Property tests: no scan crashes the interpreter; valid labels round-trip; damage is caught."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, assume, example, given, settings as hsettings
from hypothesis import strategies as st
from scan_labels import GS, hibc, yymmdd

from certbench.core.config import default_settings, parse_settings
from certbench.core.naming import NamingError
from certbench.core.naming.hibc import CHARSET
from certbench.core.naming.scan import ScanError, interpret_scan

SETTINGS = default_settings()
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_CHARS = ALNUM + "abcdefghijklmnopqrstuvwxyz-"

scan_like = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=CHARSET + "\x1d*_", max_size=60).map(lambda s: "+" + s),
    st.text(alphabet="0123456789()\x1d" + ALNUM, max_size=60),
    st.tuples(st.sampled_from(["]d2", "]C1", "]Q3", "]e0", "]E0", "]A3", "]Q1", "]zz", "]"]), st.text(max_size=50)).map(
        "".join
    ),
    st.text(alphabet="/%?=&.:" + ALNUM, max_size=60).map(lambda s: "https://id.gs1.org/01/" + s),
)


@given(scan_like)
@example("+")
@example("+$")
@example("]d2")
@example("(01)")
@example("+*")
@example("*+*")
def test_any_text_is_a_result_or_a_scan_or_naming_error(text):
    try:
        result = interpret_scan(text, SETTINGS)
    except (ScanError, NamingError) as exc:
        assert exc.message and exc.hint
        return
    assert result.serial
    assert result.kind in {"plain", "gs1", "hibc"}
    assert (result.model is None) == (result.kind == "plain")


# GS1 two-digit years follow the standard's sliding window (current year -49..+50).
dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2070, 12, 31))
gs1_serials = st.text(alphabet=SERIAL_CHARS, min_size=1, max_size=20)
gs1_lots = st.text(alphabet=ALNUM + "-./", min_size=1, max_size=20)


@given(
    gtin=st.sampled_from([g for p in SETTINGS.products for g in p.gtins]),
    serial=gs1_serials,
    lot=st.none() | gs1_lots,
    expiry=st.none() | dates,
    made=st.none() | dates,
    form=st.sampled_from(["]d2", "]C1", "]Q3", "", "hri"]),
    order=st.permutations(range(4)),
)
def test_valid_gs1_labels_round_trip(gtin, serial, lot, expiry, made, form, order):
    fields = [("21", serial), ("10", lot), ("17", expiry and yymmdd(expiry)), ("11", made and yymmdd(made))]
    fields = [fields[i] for i in order if fields[i][1] is not None]
    if form == "hri":
        text = f"(01){gtin}" + "".join(f"({ai}){value}" for ai, value in fields)
    else:
        # GS after every variable-length field, except at the end (as encoders do).
        text = form + "01" + gtin + GS.join(ai + value for ai, value in fields)
    result = interpret_scan(text, SETTINGS)
    assert (result.kind, result.gtin, result.serial, result.lot) == ("gs1", gtin, serial, lot)
    assert (result.expiry_date, result.production_date) == (expiry, made)
    assert result.model == SETTINGS.product_for_gtin(gtin).model


def _date_field(flag: str, day: dt.date) -> str:
    julian = day.timetuple().tm_yday
    return {
        "2": f"2{day:%m%d%y}",
        "3": f"3{day:%y%m%d}",
        "4": f"4{day:%y%m%d}07",
        "5": f"5{day:%y}{julian:03d}",
        "6": f"6{day:%y}{julian:03d}23",
    }[flag]


hibc_values = st.text(alphabet=ALNUM, min_size=1, max_size=18)
lics = st.text(alphabet=ALNUM, min_size=3, max_size=3).flatmap(
    lambda rest: st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ").map(lambda first: first + rest)
)


@st.composite
def hibc_units(draw):
    lic, pcn = draw(lics), draw(st.text(alphabet=ALNUM, min_size=1, max_size=18))
    serial, lot = draw(hibc_values), draw(st.none() | hibc_values)
    expiry = draw(st.none() | st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
    made = draw(st.none() | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31)))
    flag = draw(st.sampled_from("23456"))
    serial_in_supplement = lot is not None or draw(st.booleans())
    uom = draw(st.integers(0, 9))
    if lot is not None:
        secondary = "$$" + (_date_field(flag, expiry) if expiry else "7") + lot
    elif serial_in_supplement:
        secondary = "$$" + (_date_field(flag, expiry) if expiry else "7")
        secondary = None if not expiry else secondary
    else:
        secondary = "$$+" + (_date_field(flag, expiry) if expiry else "7") + serial
    parts = [f"{lic}{pcn}{uom}"]
    if secondary:
        parts.append(secondary)
    elif expiry:
        parts.append(f"14D{expiry:%Y%m%d}")
    if made:
        parts.append(f"16D{made:%Y%m%d}")
    if serial_in_supplement:
        parts.append("S" + serial)
    return hibc("+" + "/".join(parts)), lic + pcn, serial, lot, expiry, made


def _catalogue(code: str):
    return parse_settings({"products": [{"model": "m1", "intermediate": "medicorp-ica-1", "hibc_codes": [code]}]})


@hsettings(suppress_health_check=[HealthCheck.too_slow])
@given(hibc_units())
def test_valid_hibc_labels_round_trip(unit):
    label, code, serial, lot, expiry, made = unit
    result = interpret_scan(label, _catalogue(code))
    assert (result.kind, result.hibc_code, result.model) == ("hibc", code, "m1")
    assert (result.serial, result.lot, result.expiry_date, result.production_date) == (serial, lot, expiry, made)


@hsettings(suppress_health_check=[HealthCheck.too_slow])
@given(hibc_units(), st.data())
def test_one_changed_character_never_passes_as_different_data(unit, data):
    label, code, *_ = unit
    catalogue = _catalogue(code)
    index = data.draw(st.integers(0, len(label) - 1))
    # Any printable character or GS; CR/LF are the scanner's line framing, not label data.
    replacement = data.draw(st.sampled_from(CHARSET + "\x1d*_#abcxyz"))
    assume(replacement != label[index])
    corrupted = label[:index] + replacement + label[index + 1 :]
    try:
        result = interpret_scan(corrupted, catalogue)
    except (ScanError, NamingError) as exc:
        if isinstance(exc, ScanError):
            assert exc.reason in {"damaged", "unparseable", "lowercase", "syntax"}, exc.message
        return
    raise AssertionError(f"{corrupted!r} was accepted as {result}")
