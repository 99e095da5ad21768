"""GS1 UDI labels through biip: every carrier form, the catalogue lookup, every refusal."""

from __future__ import annotations

import datetime as dt

import pytest
from scan_labels import GS, gtin14

from certbench.core.config import parse_settings
from certbench.core.naming import CnTemplate, NamingError
from certbench.core.naming.scan import ScanError, interpret_scan

MX200 = "09506000134352"
MX300 = "09506000134369"


def test_gs1_datamatrix_with_symbology_identifier_and_gs(settings):
    text = f"]d201{MX200}21MX2A0001{GS}10LOT42{GS}17270630{GS}11250101\r\n"
    result = interpret_scan(text, settings)
    assert result.kind == "gs1" and result.symbology == "]d2"
    assert (result.model, result.serial, result.gtin, result.lot) == ("mx200", "MX2A0001", MX200, "LOT42")
    assert result.expiry_date == dt.date(2027, 6, 30)
    assert result.production_date == dt.date(2025, 1, 1)
    assert result.raw == text
    assert result.common_name(settings.cn_template()) == "mx200-mx2a0001"


def test_gs1_128_with_c1(settings):
    result = interpret_scan(f"]C101{MX300}11240229{GS}21A-77", settings)
    assert (result.model, result.serial, result.production_date, result.symbology) == (
        "mx300",
        "A-77",
        dt.date(2024, 2, 29),
        "]C1",
    )


def test_gs1_qr_with_q3_and_fixed_length_fields_without_gs(settings):
    # (01), (11), (17) have fixed lengths: no GS needed after them.
    result = interpret_scan(f"]Q301{MX200}1724123111230115" + f"21SN9{GS}10L1", settings)
    assert (result.serial, result.lot, result.symbology) == ("SN9", "L1", "]Q3")
    assert (result.expiry_date, result.production_date) == (dt.date(2024, 12, 31), dt.date(2023, 1, 15))


def test_human_readable_parentheses_form(settings):
    result = interpret_scan(f"(01){MX200}(11)250101(17)270630(10)LOT42(21)MX2A0001", settings)
    assert (result.model, result.serial, result.lot, result.expiry_date) == (
        "mx200",
        "MX2A0001",
        "LOT42",
        dt.date(2027, 6, 30),
    )


def test_gs1_digital_link_uri_plain_and_from_a_qr_code(settings):
    uri = f"https://id.gs1.org/01/{MX300}/10/L9/21/SN77?17=280101"
    for text in (uri, "]Q1" + uri):
        result = interpret_scan(text, settings)
        assert (result.model, result.serial, result.lot, result.expiry_date) == (
            "mx300",
            "SN77",
            "L9",
            dt.date(2028, 1, 1),
        )


def test_element_string_without_symbology_identifier_and_with_leading_fnc1(settings):
    for text in (f"01{MX200}21SN1{GS}10L", f"{GS}01{MX200}21SN1{GS}10L"):
        result = interpret_scan(text, settings)
        assert (result.kind, result.serial, result.lot, result.symbology) == ("gs1", "SN1", "L", None)


def test_gtin_selects_the_product_of_a_configured_catalogue():
    custom = parse_settings(
        {
            "products": [
                {"model": "ab1", "intermediate": "medicorp-ica-1", "gtins": [gtin14("0401234500001")]},
            ]
        }
    )
    result = interpret_scan(f"]d201{gtin14('0401234500001')}21Z9", custom)
    assert (result.model, result.serial) == ("ab1", "Z9")


def test_template_fields_gtin_and_lot_reach_the_cn(settings):
    result = interpret_scan(f"]d201{MX200}21SN5{GS}10L7", settings)
    assert result.common_name(CnTemplate("{model}-{lot}-{serial}")) == "mx200-l7-sn5"
    assert result.common_name(CnTemplate("g{gtin}-{serial}")) == f"g{MX200}-sn5"


def test_chosen_model_must_agree_with_the_label(settings):
    result = interpret_scan(f"]d201{MX200}21SN5", settings)
    assert result.common_name(settings.cn_template(), model="MX200") == "mx200-sn5"
    with pytest.raises(ScanError) as caught:
        result.common_name(settings.cn_template(), model="mx300")
    assert caught.value.reason == "mismatch" and "mx200" in caught.value.message


# -- refusals ---------------------------------------------------------------------------------


def _refused(text, settings) -> ScanError:
    with pytest.raises(ScanError) as caught:
        interpret_scan(text, settings)
    assert caught.value.hint
    return caught.value


def test_bad_gtin_check_digit_is_a_damaged_or_misread_label(settings):
    bad = MX200[:-1] + "3"
    error = _refused(f"]d201{bad}21SN1", settings)
    assert error.reason == "damaged"
    assert bad in error.message and "damaged or was misread" in error.message


def test_valid_label_of_another_company_is_not_ours(settings):
    foreign = gtin14("0401234512345")
    error = _refused(f"]d201{foreign}21SN1", settings)
    assert error.reason == "not-ours"
    assert foreign in error.message and "not in the product catalogue" in error.message


def test_unknown_gtin_with_our_company_prefix(settings):
    ours_unknown = gtin14("0950600013439")
    error = _refused(f"]d201{ours_unknown}21SN1", settings)
    assert error.reason == "unknown-product"
    assert ours_unknown in error.message and "not in the product catalogue" in error.message
    assert "Settings" in error.hint


def test_label_without_serial(settings):
    error = _refused(f"]d201{MX200}10LOT1{GS}17270630", settings)
    assert error.reason == "no-serial"
    assert "(21)" in error.message and MX200 in error.message and "mx200" in error.message


def test_bare_product_barcode_of_a_catalogue_gtin(settings):
    for text in (MX200, MX200[1:], "]E0" + MX200[1:]):
        assert _refused(text, settings).reason == "no-serial"


def test_shipping_label_has_no_product(settings):
    error = _refused("]C100" + "1" * 17 + "7", settings)
    assert error.reason in {"no-product", "syntax"}


def test_invalid_date(settings):
    assert _refused(f"]d201{MX200}17271332{GS}21SN1", settings).reason == "date"
    assert _refused(f"]d201{MX200}11250230{GS}21SN1", settings).reason == "date"


def test_conflicting_duplicate_field(settings):
    error = _refused(f"]d201{MX200}21SN1{GS}21SN2", settings)
    assert error.reason == "conflict" and "SN1" in error.message and "SN2" in error.message


def test_unreadable_gs1_data(settings):
    error = _refused(f"]d201{MX200}99", settings)
    assert error.reason == "syntax"
    assert "GS" in error.hint


def test_web_address_that_is_not_a_digital_link(settings):
    assert _refused("https://example.com/manual", settings).reason == "unparseable"


def test_serial_breaking_the_naming_rules_names_character_and_position(settings):
    with pytest.raises(NamingError) as caught:
        interpret_scan(f"]d201{MX200}21AB/C7", settings)
    assert caught.value.rule == "character" and caught.value.position == 3
    assert "'/'" in caught.value.message and "position 3" in caught.value.message
