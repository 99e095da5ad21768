"""Demo mode: `certbench demo` runs the whole flow on the emulators in this process (IoT
Central, Sectigo, DPS) with simulated instruments; each unit's outcome, a summary, the exit
status, and a folder kept only when asked."""

from __future__ import annotations

import json

import pytest

from certbench.core import demo as demo_module
from certbench.core.cli import main
from certbench.core.demo import DemoServices
from certbench.core.demo_run import demo_serials, run_demo
from certbench.core.registry import open_registry


def _cli(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return info.value.code or 0, out, err


def test_run_demo_provisions_and_registers_every_unit_and_retires_instruments(tmp_path):
    seen = []
    with DemoServices(tmp_path / "demo") as services:
        report = run_demo(services, 6, parallel=3, on_unit=seen.append)
        assert services.instruments == {}  # every simulated instrument unplugged once its unit was done
        with services.bench_env() as env:
            assert env.registry.count_units() == 6 and env.registry.verify().ok
            for unit in report.units:
                assert env.registry.get_unit(unit.cn).state.value == "done"
                assert env.central.get_device(unit.cn).provisioned
        orders = [o.common_name for o in services.sectigo.app.orders.values()]
    assert len(seen) == 6 and [u.index for u in report.units] == [1, 2, 3, 4, 5, 6]
    assert all(orders.count(u.cn) == 1 for u in report.units)  # one order per unit
    assert len(set(orders)) == len(orders)  # (the others are the intermediates' proof-of-possession orders)
    summary = report.summary()
    assert (summary["done"], summary["failed"], summary["registered"]) == (6, 0, 6)
    assert summary["by_key_origin"] == {"device": 3, "workstation": 3}
    assert summary["units_per_minute"] > 0


def test_a_failing_unit_is_reported_with_its_reason_and_the_exit_status_is_1(capsys, monkeypatch):
    class LeavesIca4Unverified(DemoServices):
        def __init__(self, *args, **kwargs):
            kwargs["verify"] = ("medicorp-ica-1", "medicorp-ica-2", "medicorp-ica-3")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(demo_module, "DemoServices", LeavesIca4Unverified)
    code, out, err = _cli(capsys, "demo", "--units", "4", "--parallel", "4")
    assert code == 1
    lines = out.splitlines()
    assert len([l for l in lines if l.startswith("done ")]) == 3 and len([l for l in lines if l.startswith("FAIL ")]) == 1
    assert "lx5" in out and "medicorp-ica-4" in out and "is not verified" in out
    assert "certbench ca verify medicorp-ica-4" in out  # the way forward, in the summary


def test_keep_keeps_the_folder_with_its_registry(capsys, tmp_path):
    kept = tmp_path / "kept"
    code, out, _ = _cli(capsys, "demo", "--units", "2", "--parallel", "2", "--keep", str(kept), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["kept"] and data["home"] == str(kept)
    registry = open_registry(f"sqlite:///{kept / 'data' / 'certbench.db'}")
    try:
        assert sorted(u.cn for u in registry.list_units()) == sorted(u["cn"] for u in data["units"])
    finally:
        registry.close()


def test_serials_follow_the_naming_rules_and_mix_the_products():
    from certbench.core.config import default_settings
    from certbench.core.naming import validate_cn

    settings = default_settings()
    pairs = demo_serials(8, [p.model for p in settings.products], tag="AB12")
    assert [m for _, m in pairs] == ["mx200", "mx300", "vx10", "lx5"] * 2
    for serial, model in pairs:
        validate_cn(settings.cn_template().render(model=model, serial=serial))
