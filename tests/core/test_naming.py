import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certbench.core.errors import ConfigError
from certbench.core.naming import ALLOWED, MAX_CN_LENGTH, CnTemplate, NamingError, normalize_cn, validate_cn

valid_cn = st.text(alphabet=sorted(ALLOWED), min_size=1, max_size=MAX_CN_LENGTH)


@given(valid_cn)
def test_every_allowed_name_passes_unchanged(cn):
    assert normalize_cn(cn) == cn


@given(valid_cn, st.sampled_from(["", " ", "  \t"]))
def test_case_and_surrounding_space_are_folded(cn, pad):
    assert normalize_cn(pad + cn.upper() + pad) == cn


@given(st.text(min_size=1, max_size=80))
def test_arbitrary_text_is_either_valid_or_refused_with_a_rule(text):
    try:
        cn = normalize_cn(text)
    except NamingError as exc:
        assert exc.rule in {"empty", "character", "length", "last-character"}
        assert exc.hint
        if exc.position is not None:
            assert exc.position >= 1
    else:
        assert 1 <= len(cn) <= MAX_CN_LENGTH
        assert set(cn) <= ALLOWED


@given(
    st.text(alphabet=sorted(ALLOWED), min_size=0, max_size=20),
    st.sampled_from(list(" _.:/\\@#é\x00\x1d")),
    st.text(alphabet=sorted(ALLOWED), min_size=0, max_size=20),
)
def test_a_bad_character_is_named_with_its_position(before, bad, after):
    with pytest.raises(NamingError) as info:
        validate_cn(before + bad + after)
    assert info.value.rule == "character"
    assert info.value.position == len(before) + 1
    assert f"position {len(before) + 1}" in info.value.message


def test_every_bad_character_is_named_at_once():
    with pytest.raises(NamingError) as info:
        validate_cn("mx_200/sn 1")
    assert info.value.message == (
        "The device name 'mx_200/sn 1' contains '_' at position 3, '/' at position 7 and a space at position 10."
    )
    assert info.value.position == 3
    with pytest.raises(NamingError, match=r"'\.' at position 10 \(and 1 more\)\."):
        validate_cn("a.b.c.d.e.f.g")


def test_space_and_control_characters_are_described_in_words():
    with pytest.raises(NamingError, match="a space at position 3"):
        validate_cn("ab cd")
    with pytest.raises(NamingError, match="control character U\\+001D"):
        validate_cn("ab\x1dcd")


def test_uppercase_without_normalising_says_so():
    with pytest.raises(NamingError) as info:
        validate_cn("MX200-1")
    assert "lowercase" in info.value.hint


def test_empty_and_too_long():
    with pytest.raises(NamingError) as info:
        normalize_cn("   ")
    assert info.value.rule == "empty"
    with pytest.raises(NamingError) as info:
        validate_cn("a" * (MAX_CN_LENGTH + 1))
    assert info.value.rule == "length"
    assert "65 characters" in info.value.message
    validate_cn("a" * MAX_CN_LENGTH)


def test_template_renders_model_and_serial():
    assert CnTemplate().render(model="MX200", serial="A1B2C3") == "mx200-a1b2c3"
    assert CnTemplate("mc-{model}-{lot}-{serial}").render(model="vx10", serial="7", lot="L9") == "mc-vx10-l9-7"


def test_template_rejects_unknown_field_and_missing_serial():
    with pytest.raises(ConfigError, match="unknown field"):
        CnTemplate("{model}-{colour}-{serial}")
    with pytest.raises(ConfigError, match="must contain"):
        CnTemplate("{model}")


def test_template_refuses_serial_that_breaks_the_rules():
    with pytest.raises(NamingError, match="a space at position 8"):
        CnTemplate().render(model="mx200", serial="A B")
    with pytest.raises(NamingError, match="serial number is empty"):
        CnTemplate().render(model="mx200", serial="  ")


def test_allowed_set_is_the_strictest_common_rule():
    assert ALLOWED == set(string.ascii_lowercase + string.digits + "-")
