"""The unit workflow end to end against the IoT Central and Sectigo emulators and the
instrument simulator: the normal run, key origins, and every refusal before ordering."""

from __future__ import annotations

import json

import pytest
from unit_fixtures import FAST, assert_installed, demo, env, orders_for  # noqa: F401 - fixtures

from certbench.core.demo import DemoServices
from certbench.core.registry import ReservationConflict, UnitState
from certbench.core.workflows.unit_errors import (
    DeviceAlreadyInCentral,
    IdentityMismatch,
    IntermediateNotVerified,
    UnitRefused,
)
from certbench.core.workflows.unit_provisioning import provision_unit


def test_device_key_unit_is_provisioned_end_to_end(demo, env):
    port = demo.add_instrument("mx200", "MX2A0001")
    events = []
    outcome = provision_unit(env, "MX2A0001", port, model="mx200", progress=events.append, options=FAST)

    assert (outcome.cn, outcome.state, outcome.key_origin, outcome.generation) == ("mx200-mx2a0001", "done", "device", 1)
    assert len(orders_for(demo, "mx200-mx2a0001")) == 1
    assert_installed(demo, port, env, "mx200-mx2a0001")
    # every step reported, in order, and finished
    done = [e.step for e in events if e.status == "done"]
    assert done == ["scan", "connect", "identify", "intermediate", "central", "reserve", "key", "order", "collect",
                    "validate", "stage", "commit", "readback", "possession"]
    transfers = [e for e in events if e.detail.get("transfer")]
    assert transfers[-1].detail["bytes_done"] == transfers[-1].detail["bytes_total"] > 3000
    # every step audited, and the chain intact
    names = [e.event for e in env.registry.unit_events("mx200-mx2a0001")]
    for name in ("unit.scanned", "unit.cn_reserved", "unit.central_checked", "unit.key_ready", "unit.cert_ordered",
                 "unit.cert_issued", "unit.chain_validated", "unit.staged", "unit.installed", "unit.hashes_checked",
                 "unit.verified", "unit.done"):
        assert name in names
    assert env.registry.verify().ok


def test_workstation_key_product_writes_the_key_and_forgets_it(demo, env):
    port = demo.add_instrument("mx300", "MX3A0001")
    outcome = provision_unit(env, "MX3A0001", port, model="mx300", options=FAST)
    assert (outcome.state, outcome.key_origin) == ("done", "workstation")
    assert_installed(demo, port, env, "mx300-mx3a0001")
    assert len(env.keys) == 0  # the key left memory once the unit was done
    key_event = [e for e in env.registry.unit_events("mx300-mx3a0001") if e.event == "unit.key_ready"][0]
    assert json.loads(key_event.details)["key_origin"] == "workstation"


def test_instrument_without_on_device_keygen_gets_a_workstation_key(demo, env):
    port = demo.add_instrument("mx200", "MX2A0002", keygen=False)  # product asks for device keys
    outcome = provision_unit(env, "MX2A0002", port, model="mx200", options=FAST)
    assert (outcome.state, outcome.key_origin) == ("done", "workstation")
    assert any("cannot generate" in note for note in outcome.notes)
    assert_installed(demo, port, env, "mx200-mx2a0002")


@pytest.mark.parametrize("reported, differs", [
    (("MX200", "MX2A9999"), "its serial number differs."),
    (("MX300", "MX2A0003"), "its model differs."),
    (("MX300", "MX2A9998"), "its serial number and model differ."),
])
def test_scan_and_instrument_must_agree(demo, env, reported, differs):
    model, serial = reported
    port = demo.add_instrument("mx200", serial, reported_model=model)
    with pytest.raises(IdentityMismatch) as caught:
        provision_unit(env, "MX2A0003", port, model="mx200", options=FAST)
    message = caught.value.message
    assert "MX2A0003" in message and serial in message and model in message and "mx200" in message
    assert differs in message
    assert env.registry.count_units() == 0
    assert not orders_for(demo, "mx200-mx2a0003")
    refusal = [e for e in env.registry.events() if e.event == "unit.instrument_checked"]
    assert refusal and refusal[-1].outcome == "refused"


def test_a_unit_already_provisioned_is_refused_not_reissued(demo, env):
    port = demo.add_instrument("mx200", "MX2A0004")
    provision_unit(env, "MX2A0004", port, model="mx200", options=FAST)
    with pytest.raises(UnitRefused, match="already provisioned") as caught:
        provision_unit(env, "MX2A0004", port, model="mx200", options=FAST)
    assert "reprovision" in caught.value.hint
    assert len(orders_for(demo, "mx200-mx2a0004")) == 1


def test_a_cn_held_by_another_unit_is_refused_by_the_registry(demo, env):
    # A template without the model makes two products' serials collide on one CN.
    demo.settings.bench.cn_template = "dev-{serial}"
    first = demo.add_instrument("mx200", "SAME01")
    provision_unit(env, "SAME01", first, model="mx200", options=FAST)
    other = demo.add_instrument("vx10", "SAME01", store_dir=demo.folder / "other", port="sim:other")
    with pytest.raises(ReservationConflict, match="dev-same01"):
        provision_unit(env, "SAME01", other, model="vx10", options=FAST)
    assert len(orders_for(demo, "dev-same01")) == 1


def test_a_device_already_in_iot_central_is_refused_before_anything_is_reserved(demo, env):
    env.central.create_device("mx200-mx2a0005")
    port = demo.add_instrument("mx200", "MX2A0005")
    with pytest.raises(DeviceAlreadyInCentral, match="already has a device 'mx200-mx2a0005'"):
        provision_unit(env, "MX2A0005", port, model="mx200", options=FAST)
    assert env.registry.count_units() == 0
    assert not orders_for(demo, "mx200-mx2a0005")


def test_a_product_whose_intermediate_is_not_verified_is_refused_before_ordering(tmp_path):
    with DemoServices(tmp_path / "d", dps=False, verify=("medicorp-ica-2",)) as services:
        from unit_fixtures import make_env

        bench = make_env(services)
        try:
            port = services.add_instrument("mx200", "MX2A0006")  # mx200 issues from medicorp-ica-1
            with pytest.raises(IntermediateNotVerified) as caught:
                provision_unit(bench, "MX2A0006", port, model="mx200", options=FAST)
            assert "medicorp-ica-1" in caught.value.message
            assert "certbench ca verify medicorp-ica-1" in caught.value.hint
            assert bench.registry.count_units() == 0
            assert not orders_for(services, "mx200-mx2a0006")
            # the product on the verified intermediate goes through
            other = services.add_instrument("mx300", "MX3A0006")
            assert provision_unit(bench, "MX3A0006", other, model="mx300", options=FAST).state == "done"
        finally:
            bench.close()


def test_a_udi_label_names_the_product(demo, env):
    port = demo.add_instrument("mx200", "MX2A0007")
    outcome = provision_unit(env, "]d2010950600013435221MX2A0007\x1d10LOT42", port, options=FAST)
    assert (outcome.cn, outcome.state) == ("mx200-mx2a0007", "done")
    assert env.registry.get_unit("mx200-mx2a0007").gtin == "09506000134352"
    assert env.registry.get_unit("mx200-mx2a0007").state == UnitState.DONE
