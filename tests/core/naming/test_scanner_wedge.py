"""Keyboard-wedge detection with synthetic key timings."""

from __future__ import annotations

from certbench.core.config import default_settings
from certbench.core.naming.scanner import ScanEvent, WedgeDetector


def _type(detector: WedgeDetector, text: str, start: float, gap: float, enter_gap: float | None = None):
    t = start
    for ch in text:
        detector.key(ch, t)
        t += gap
    return detector.enter(t - gap + (gap if enter_gap is None else enter_gap))


def test_fast_burst_is_a_scan_and_reaches_the_callback():
    seen: list[ScanEvent] = []
    detector = WedgeDetector(seen.append)
    result = _type(detector, "]d2010950600013435221SN1\x1d10L1", 100.0, 0.004)
    assert (result.kind, result.text) == ("scan", "]d2010950600013435221SN1\x1d10L1")  # GS kept
    assert [(e.text, e.source) for e in seen] == [(result.text, "wedge")]


def test_human_typing_is_typed():
    seen: list[ScanEvent] = []
    detector = WedgeDetector(seen.append)
    result = _type(detector, "MX2A0001", 5.0, 0.15)
    assert (result.kind, result.text) == ("typed", "MX2A0001")
    assert seen == []


def test_threshold_is_configurable_and_strict():
    assert _type(WedgeDetector(max_gap=0.05), "ABCDEF", 0.0, 0.049).kind == "scan"
    assert _type(WedgeDetector(max_gap=0.05), "ABCDEF", 0.0, 0.051).kind == "typed"
    assert _type(WedgeDetector(max_gap=0.1), "ABCDEF", 0.0, 0.08).kind == "scan"


def test_one_slow_key_inside_the_burst_makes_it_typing():
    detector = WedgeDetector()
    for i, ch in enumerate("ABC"):
        detector.key(ch, i * 0.01)
    detector.key("D", 0.5)  # pause
    detector.key("E", 0.51)
    assert detector.enter(0.52).kind == "typed"


def test_slow_enter_after_a_fast_burst_is_typing():
    assert _type(WedgeDetector(), "ABCDEF", 0.0, 0.005, enter_gap=0.4).kind == "typed"


def test_minimum_length():
    assert _type(WedgeDetector(min_length=4), "ABC", 0.0, 0.005).kind == "typed"
    assert _type(WedgeDetector(min_length=4), "ABCD", 0.0, 0.005).kind == "scan"


def test_prefix_and_suffix_are_required_and_stripped():
    detector = WedgeDetector(prefix="#", suffix="!")
    result = _type(detector, "#SN-42!", 0.0, 0.005)
    assert (result.kind, result.text) == ("scan", "SN-42")
    assert _type(detector, "SN-42!", 1.0, 0.005).kind == "typed"  # fast, but not framed
    assert _type(detector, "#SN-42", 2.0, 0.005).kind == "typed"


def test_from_settings_uses_the_bench_prefix_and_suffix():
    settings = default_settings()
    settings.bench.scanner_prefix, settings.bench.scanner_suffix = "~", ""
    detector = WedgeDetector.from_settings(settings, max_gap=0.03)
    assert (detector.prefix, detector.suffix, detector.max_gap) == ("~", "", 0.03)
    assert _type(detector, "~SN1234", 0.0, 0.01).text == "SN1234"


def test_typed_characters_before_a_scan_are_reported_separately():
    detector = WedgeDetector()
    detector.key("x", 0.0)
    detector.key("y", 0.3)  # person typing
    t = 1.0
    for ch in "SN123456":
        detector.key(ch, t)
        t += 0.003
    result = detector.enter(t)
    assert (result.kind, result.text, result.typed_before) == ("scan", "SN123456", "xy")


def test_enter_fed_as_a_character_and_modifier_keys_ignored():
    detector = WedgeDetector()
    for i, ch in enumerate("SN12345"):
        detector.key(ch, i * 0.002)
        detector.key("", i * 0.002 + 0.001)  # Shift etc.
    result = detector.key("\r", 0.02)
    assert (result.kind, result.text) == ("scan", "SN12345")
    assert detector.enter(10.0).kind == "typed"  # state was cleared
