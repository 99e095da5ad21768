"""HIBC LIC labels: published examples, every secondary form, split labels, every refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from scan_labels import hibc, hibc_split, mod43

from certbench.core.naming.hibc import CHARSET, check_character, parse_hibc
from certbench.core.naming.scan import ScanAssembler, ScanError, interpret_scan, interpret_scans

# Published examples: HIBCC/ActiveBarcode Mod 43 worked example, and the concatenated label
# used by the HIBC standard's examples (LIC A999, lot 10X3, Julian expiry 2020-015).
PUBLISHED_PRIMARY = "+A1234BJC5D6E71K"
PUBLISHED_CONCATENATED = "+A99912345/$$52001510X3/16D20111212/S77DE1G45-"


def test_published_check_characters_match_both_implementations():
    for label in (PUBLISHED_PRIMARY, PUBLISHED_CONCATENATED):
        assert check_character(label[:-1]) == label[-1]
        assert mod43(label[:-1]) == label[-1]


def test_check_character_agrees_with_the_independent_helper_over_the_whole_charset():
    for a in CHARSET:
        for b in CHARSET:
            assert check_character("+" + a + b) == mod43("+" + a + b)


def test_published_primary_example():
    label = parse_hibc(PUBLISHED_PRIMARY)
    assert (label.primary.lic, label.primary.pcn, label.primary.unit_of_measure) == ("A123", "4BJC5D6E7", 1)
    assert label.secondary is None
    assert label.link_character == "K"


def test_published_concatenated_example():
    label = parse_hibc(PUBLISHED_CONCATENATED)
    assert label.primary.code == "A9991234" and label.primary.unit_of_measure == 5
    sec = label.secondary
    assert sec.lot == "10X3"
    assert sec.expiry_date == dt.date(2020, 1, 15)  # $$5 = YYJJJ: 2020, day 15
    assert sec.production_date == dt.date(2011, 12, 12)
    assert sec.serial == "77DE1G45"


def test_demo_unit_label_gives_model_serial_lot_and_dates(settings):
    result = interpret_scan(hibc("+MDCPMX2000/$$3270630LOT42/16D20250101/SMX2A0001"), settings)
    assert result.kind == "hibc"
    assert (result.model, result.serial, result.lot, result.hibc_code) == ("mx200", "MX2A0001", "LOT42", "MDCPMX200")
    assert result.expiry_date == dt.date(2027, 6, 30)
    assert result.production_date == dt.date(2025, 1, 1)
    assert result.gtin is None
    assert result.common_name(settings.cn_template()) == "mx200-mx2a0001"


@pytest.mark.parametrize(
    ("field", "expiry"),
    [
        ("0627", dt.date(2027, 6, 30)),  # flag 0: MMYY, the flag is the month's first digit
        ("1127", dt.date(2027, 11, 30)),  # flag 1: MMYY
        ("2063027", dt.date(2027, 6, 30)),  # MMDDYY
        ("3270630", dt.date(2027, 6, 30)),  # YYMMDD
        ("427063001", dt.date(2027, 6, 30)),  # YYMMDDHH
        ("527181", dt.date(2027, 6, 30)),  # YYJJJ: day 181 of 2027
        ("62718123", dt.date(2027, 6, 30)),  # YYJJJHH
        ("7", None),  # no date
    ],
)
def test_every_date_format_of_a_serial_field(settings, field, expiry):
    result = interpret_scan(hibc(f"+MDCPVX100/$$+{field}SN123"), settings)
    assert (result.model, result.serial, result.lot, result.expiry_date) == ("vx10", "SN123", None, expiry)


def test_leap_year_julian_day_366(settings):
    result = interpret_scan(hibc("+MDCPLX50/$$+528366SN1"), settings)
    assert result.expiry_date == dt.date(2028, 12, 31)


def test_dollar_plus_serial_without_date(settings):
    result = interpret_scan(hibc("+MDCPMX3000/$+A7B8C9"), settings)
    assert (result.model, result.serial, result.lot, result.expiry_date) == ("mx300", "A7B8C9", None, None)


def test_lot_with_supplemental_serial_and_dates(settings):
    result = interpret_scan(hibc("+MDCPMX3000/$L0T9/14D20291231/16D20240229/S000123"), settings)
    assert (result.serial, result.lot) == ("000123", "L0T9")
    assert result.expiry_date == dt.date(2029, 12, 31)
    assert result.production_date == dt.date(2024, 2, 29)


def test_quantity_forms():
    two = parse_hibc(hibc("+MDCPMX2000/$$805LOT1/SSN1")).secondary
    assert (two.quantity, two.lot, two.expiry_date, two.serial) == (5, "LOT1", None, "SN1")
    five = parse_hibc(hibc("+MDCPMX2000/$$+9001203270630SN9")).secondary
    assert (five.quantity, five.serial, five.expiry_date) == (120, "SN9", dt.date(2027, 6, 30))


def test_julian_secondary_form():
    sec = parse_hibc(hibc("+MDCPMX2000/27181LOT7/SSN7")).secondary
    assert (sec.expiry_date, sec.lot, sec.serial) == (dt.date(2027, 6, 30), "LOT7", "SN7")


def test_split_labels_in_either_order(settings):
    first, second = hibc_split("MDCPMX2000", "$$+3270630SN55")
    for scans in ([first, second], [second, first]):
        result = interpret_scans(scans, settings)
        assert (result.kind, result.model, result.serial, result.expiry_date) == (
            "hibc",
            "mx200",
            "SN55",
            dt.date(2027, 6, 30),
        )
        assert result.raw == scans[0] + "\n" + scans[1]


def test_split_secondary_with_supplemental_serial(settings):
    first, second = hibc_split("MDCPLX50", "$LOT3/SSN3")
    result = interpret_scans([first, second], settings)
    assert (result.model, result.lot, result.serial) == ("lx5", "LOT3", "SN3")


def test_split_label_halves_must_carry_the_same_link_character(settings):
    first, _ = hibc_split("MDCPMX2000", "$+SN1")
    _, other_second = hibc_split("MDCPMX3000", "$+SN1")
    with pytest.raises(ScanError) as caught:
        interpret_scans([first, other_second], settings)
    assert caught.value.reason == "mismatch"
    assert "do not belong together" in caught.value.message


def test_assembler_waits_and_a_rescan_of_the_same_half_replaces_it(settings):
    first, second = hibc_split("MDCPMX2000", "$+SN1")
    other_first, _ = hibc_split("MDCPMX3000", "$+SN1")
    assembler = ScanAssembler(settings)
    assert assembler.feed(other_first) is None
    assert assembler.waiting_for == "secondary"
    assert assembler.feed(first) is None  # replaced: the technician rescanned the product barcode
    result = assembler.feed(second)
    assert (result.model, result.serial) == ("mx200", "SN1")
    assert assembler.waiting_for is None


def test_a_half_alone_is_incomplete(settings):
    first, second = hibc_split("MDCPMX2000", "$+SN1")
    with pytest.raises(ScanError) as primary_only:
        interpret_scan(first, settings)
    assert primary_only.value.reason == "incomplete" and "MDCPMX200" in primary_only.value.message
    with pytest.raises(ScanError) as secondary_only:
        interpret_scan(second, settings)
    assert secondary_only.value.reason == "incomplete" and "product barcode" in secondary_only.value.message
    with pytest.raises(ScanError) as via_list:
        interpret_scans([first], settings)
    assert via_list.value.reason == "incomplete"


def test_reader_stripped_check_character_with_code39_identifier(settings):
    data = "+MDCPMX2000/$+SN8"
    assert interpret_scan("]A3" + data, settings).serial == "SN8"
    assert interpret_scan("]A1" + hibc(data), settings).symbology == "]A1"
    with pytest.raises(ScanError) as caught:
        interpret_scan("]A1" + data, settings)  # no check character although the reader sent it
    assert caught.value.reason == "damaged"


def test_caption_typed_with_asterisks(settings):
    label = hibc("+MDCPMX2000/$+SN8")
    assert interpret_scan(f"*{label}*", settings).serial == "SN8"


def test_space_check_character_survives_and_underscore_in_caption(settings):
    # Find a serial whose label's check character is a space: trailing spaces must not be stripped.
    serial = next(f"S{i}" for i in range(10000) if mod43(f"+MDCPMX2000/$+S{i}") == " ")
    label = hibc(f"+MDCPMX2000/$+{serial}")
    assert label.endswith(" ")
    assert interpret_scan(label + "\r\n", settings).serial == serial
    assert interpret_scan("*" + label[:-1] + "_*", settings).serial == serial


# -- refusals -------------------------------------------------------------------------------


def _refused(text, settings) -> ScanError:
    with pytest.raises(ScanError) as caught:
        interpret_scan(text, settings)
    assert caught.value.hint
    return caught.value


def test_bad_check_character_says_damaged_or_misread(settings):
    label = hibc("+MDCPMX2000/$+SN1")
    wrong = CHARSET[(CHARSET.index(label[-1]) + 1) % 43]
    error = _refused(label[:-1] + wrong, settings)
    assert error.reason == "damaged"
    assert "damaged or was misread" in error.message
    assert "again" in error.hint


def test_lowercase_points_at_caps_lock(settings):
    error = _refused(hibc("+MDCPMX2000/$+SN1").lower(), settings)
    assert error.reason == "lowercase" and "Caps Lock" in error.hint


def test_invalid_dates(settings):
    for field in ("3271332", "2133027", "527000", "527366", "427063025", "1327"):
        error = _refused(hibc(f"+MDCPMX2000/$$+{field}SN1"), settings)
        assert error.reason == "date", field
    assert _refused(hibc("+MDCPMX2000/$+SN1/16D20250230"), settings).reason == "date"


def test_two_different_serials_conflict(settings):
    error = _refused(hibc("+MDCPMX2000/$+SN1/SSN2"), settings)
    assert error.reason == "conflict" and "SN1" in error.message and "SN2" in error.message
    # the same serial twice is consistent
    assert interpret_scan(hibc("+MDCPMX2000/$+SN1/SSN1"), settings).serial == "SN1"


def test_label_of_another_labeler_is_not_ours(settings):
    error = _refused(hibc("+A99912345/$$52001510X3/16D20111212/S77DE1G45"), settings)
    assert error.reason == "not-ours"
    assert "A999" in error.message and "not in the product catalogue" in error.message


def test_our_labeler_with_an_unknown_product(settings):
    error = _refused(hibc("+MDCPZZ90/$+SN1"), settings)
    assert error.reason == "unknown-product" and "MDCPZZ9" in error.message


def test_lot_only_label_has_no_serial(settings):
    error = _refused(hibc("+MDCPMX2000/$$3270630LOT1"), settings)
    assert error.reason == "no-serial" and "LOT1" in error.message and "mx200" in error.message


@pytest.mark.parametrize(
    "data",
    [
        "+MDCPMX2000/$$",  # format digit missing
        "+MDCPMX2000/$$8",  # quantity missing
        "+MDCPMX2000/$",  # lot announced, none there
        "+MDCPMX2000/$+",  # serial announced, none there
        "+MDCPMX2000//$+SN1",  # empty field
        "+MDCPMX2000/$+SN1/X1",  # unknown supplemental field
        "+MDCPMX2000/$+SN1/16D2025",  # short date
        "+MDC/$+SN1",  # primary too short
        "+1DCPMX2000",  # starts with a digit (secondary) but is neither '$' nor a Julian date
        "+MDCPMX2000/$+" + "S" * 19,  # serial longer than 18
        "+MDCPMX2000/$+SN-1",  # '-' is not allowed inside a field
        "+%ABC",
    ],
)
def test_syntax_errors(settings, data):
    error = _refused(hibc(data), settings)
    assert error.reason == "syntax", error.message


def test_character_outside_the_hibc_set(settings):
    error = _refused("+MDCPMX2000/$+SN\x1d1", settings)
    assert error.reason == "unparseable" and "position 17" in error.message
