"""Plain serial numbers: the model comes from the technician, the serial obeys the naming rules."""

from __future__ import annotations

import pytest

from certbench.core.naming import MAX_CN_LENGTH, NamingError
from certbench.core.naming.scan import ScanError, check_serial, interpret_scan


def test_plain_serial_has_no_model_until_one_is_chosen(settings):
    result = interpret_scan("MX2A0001\r\n", settings)
    assert (result.kind, result.serial, result.model, result.gtin, result.lot) == ("plain", "MX2A0001", None, None, None)
    with pytest.raises(ScanError) as caught:
        result.common_name(settings.cn_template())
    assert caught.value.reason == "no-product" and "MX2A0001" in caught.value.message
    assert result.common_name(settings.cn_template(), model="mx200") == "mx200-mx2a0001"


def test_code128_symbology_identifier_is_recorded_and_removed(settings):
    result = interpret_scan("]C0SN-42", settings)
    assert (result.serial, result.symbology) == ("SN-42", "]C0")


def test_digits_that_are_not_a_catalogue_gtin_are_a_serial(settings):
    assert interpret_scan("12345678", settings).serial == "12345678"
    assert interpret_scan("4012345123456", settings).kind == "plain"


@pytest.mark.parametrize(
    ("text", "shown", "position"),
    [("AB 12", "a space", 3), ("SN_1", "'_'", 3), ("ÄB1", "'Ä'", 1), ("A.B", "'.'", 2)],
)
def test_serial_with_a_forbidden_character(settings, text, shown, position):
    with pytest.raises(NamingError) as caught:
        interpret_scan(text, settings)
    assert caught.value.rule == "character" and caught.value.position == position
    assert f"contains {shown} at position {position}" in caught.value.message


def test_serial_too_long_for_a_device_name(settings):
    with pytest.raises(NamingError) as caught:
        interpret_scan("A" * (MAX_CN_LENGTH + 1), settings)
    assert caught.value.rule == "length"
    result = interpret_scan("A" * 60, settings)
    with pytest.raises(NamingError) as cn:  # serial fits, model + serial does not
        result.common_name(settings.cn_template(), model="mx200")
    assert cn.value.rule == "length"


@pytest.mark.parametrize("text", ["", "   ", "\r\n", "\x1d"])
def test_empty_scan(settings, text):
    with pytest.raises(ScanError) as caught:
        interpret_scan(text, settings)
    assert caught.value.reason == "unparseable"


@pytest.mark.parametrize("text", ["\x00\x13\x7f", "AB\x1bC", "ABC\x07"])
def test_line_noise(settings, text):
    with pytest.raises(ScanError) as caught:
        interpret_scan(text, settings)
    assert caught.value.reason == "unparseable" and "control character" in caught.value.message


def test_check_serial_directly():
    check_serial("abc-123")
    with pytest.raises(NamingError) as caught:
        check_serial("")
    assert caught.value.rule == "empty"
