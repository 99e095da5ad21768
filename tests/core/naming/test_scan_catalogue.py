"""The product catalogue's HIBC codes: defaults, lookup, validation."""

from __future__ import annotations

import pytest

from certbench.core.config import default_settings, parse_settings
from certbench.core.errors import ConfigError


def test_every_demo_product_has_one_hibc_code():
    settings = default_settings()
    for product in settings.products:
        assert len(product.hibc_codes) == 1
        assert settings.product_for_hibc(product.hibc_codes[0]) is product
    assert settings.product_for_hibc("MDCPNOPE") is None


def _product(**extra):
    return {"model": "ab1", "intermediate": "medicorp-ica-1", **extra}


def test_hibc_codes_load_from_the_settings_file():
    settings = parse_settings({"products": [_product(hibc_codes=["A999AB1", "A999AB1X"])]})
    assert settings.product_for_hibc("A999AB1X").model == "ab1"


@pytest.mark.parametrize("code", ["1999AB1", "A99", "A999", "a999ab1", "A999AB-1", "A999" + "P" * 19])
def test_malformed_hibc_code_is_refused(code):
    with pytest.raises(ConfigError) as caught:
        parse_settings({"products": [_product(hibc_codes=[code])]})
    assert "products[0].hibc_codes" in caught.value.message and code in caught.value.message


def test_hibc_code_on_two_products_is_refused():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"products": [_product(hibc_codes=["A999X1"]), {**_product(hibc_codes=["A999X1"]), "model": "ab2"}]})
    assert "A999X1" in caught.value.message and "ab1" in caught.value.message and "ab2" in caught.value.message
