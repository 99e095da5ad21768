"""Roll-back, re-provision and decommission end to end; and one run with the DPS check."""

from __future__ import annotations

import pytest
from unit_fixtures import FAST, assert_installed, demo, env, make_env, orders_for  # noqa: F401 - fixtures

from certbench.core.demo import DemoServices
from certbench.core.instrument.client import Instrument
from certbench.core.registry import UnitState
from certbench.core.workflows.decommission import decommission_unit, reprovision_unit
from certbench.core.workflows.unit_errors import UnitRefused
from certbench.core.workflows.unit_provisioning import provision_unit
from certbench.core.workflows.unit_recovery import roll_back_unit


def _live(demo, port):
    with Instrument(demo.open_transport(port)) as inst:
        inst.hello()
        return inst.hashes(), inst.status()


def test_failed_unit_is_rolled_back_with_abort_and_its_certificate_revoked(demo, env):
    port = demo.add_instrument("mx200", "MX2R0001")
    sim = demo.instrument(port)
    cn = "mx200-mx2r0001"

    def pull_at_commit(event):
        if event.step == "commit" and event.status == "started":
            sim.faults.disconnect_at = sim.stats.requests + 1

    with pytest.raises(Exception):
        provision_unit(env, "MX2R0001", port, model="mx200", progress=pull_at_commit, options=FAST)
    assert env.registry.get_unit(cn).failed_from == UnitState.CERT_ISSUED
    assert roll_back_unit(env, cn, "unit sent back to repair", port=port) == "revoked"
    hashes, status = _live(demo, port)
    assert all(v is None for v in hashes.values())  # nothing was ever committed
    assert status.pending_alg == 0  # the pending key was discarded
    (order,) = orders_for(demo, cn)
    assert order.status == "REVOKED"
    (cert,) = env.registry.certificates(cn)
    assert cert.status == "revoked"
    assert "unit.instrument_aborted" in [e.event for e in env.registry.unit_events(cn)]


def test_a_committed_unit_cannot_be_rolled_back(demo, env):
    port = demo.add_instrument("mx200", "MX2R0002")
    provision_unit(env, "MX2R0002", port, model="mx200", options=FAST)
    with pytest.raises(UnitRefused, match="nothing to roll back"):
        roll_back_unit(env, "mx200-mx2r0002", "oops")


def test_reprovision_revokes_the_old_certificate_and_installs_a_new_one(demo, env):
    port = demo.add_instrument("mx200", "MX2V0001")
    cn = "mx200-mx2v0001"
    first = provision_unit(env, "MX2V0001", port, model="mx200", options=FAST)
    demo.central.state.upsert_device(cn, provisioned=True)  # the old board registered
    again = reprovision_unit(env, cn, "board swap", port=port, options=FAST)
    assert (again.state, again.generation) == ("done", 2)
    assert again.certificate_sha256 != first.certificate_sha256
    old, new = orders_for(demo, cn)
    assert (old.status, new.status) == ("REVOKED", "ISSUED")
    assert [(c.generation, c.status) for c in env.registry.certificates(cn)] == [(1, "superseded"), (2, "installed")]
    device = env.central.get_device(cn)
    assert not device.provisioned  # reset, so the new identity registers under the same name
    assert_installed(demo, port, env, cn)
    events = [e.event for e in env.registry.unit_events(cn)]
    assert "unit.certificate_revoked" in events and "unit.reprovisioned" in events and "iotcentral.device_reset" in events


def test_reprovision_of_an_unfinished_unit_is_refused(demo, env):
    port = demo.add_instrument("mx200", "MX2V0002")
    demo.sectigo.app.faults.add("503", 1000, path=r"/enroll")
    with pytest.raises(Exception):
        provision_unit(env, "MX2V0002", port, model="mx200", options=FAST)
    with pytest.raises(UnitRefused, match="cannot be re-provisioned"):
        reprovision_unit(env, "mx200-mx2v0002", "renewal")


@pytest.mark.parametrize("action", ["delete", "disable"])
def test_decommission_revokes_removes_and_wipes(demo, env, action):
    port = demo.add_instrument("mx200", "MX2X0001")
    cn = "mx200-mx2x0001"
    provision_unit(env, "MX2X0001", port, model="mx200", options=FAST)
    demo.central.state.upsert_device(cn, provisioned=True)
    summary = decommission_unit(env, cn, "scrapped", port=port, device_action=action)
    assert summary["state"] == "revoked" and summary["wiped"] is True
    (order,) = orders_for(demo, cn)
    assert order.status == "REVOKED"
    device = env.central.find_device(cn)
    assert device is None if action == "delete" else device.enabled is False
    hashes, _ = _live(demo, port)
    assert all(v is None for v in hashes.values())
    events = [e.event for e in env.registry.unit_events(cn)]
    for name in ("unit.revoked", "unit.device_removed", "unit.instrument_wiped", "unit.decommissioned"):
        assert name in events
    assert env.registry.verify().ok


def test_decommission_refuses_another_instrument_and_changes_nothing(demo, env):
    port = demo.add_instrument("mx200", "MX2X0002")
    provision_unit(env, "MX2X0002", port, model="mx200", options=FAST)
    other = demo.add_instrument("mx200", "MX2X0099")
    with pytest.raises(Exception, match="MX2X0099"):
        decommission_unit(env, "mx200-mx2x0002", "scrapped", port=other)
    assert env.registry.get_unit("mx200-mx2x0002").state == UnitState.DONE
    assert orders_for(demo, "mx200-mx2x0002")[0].status == "ISSUED"


def test_registration_check_through_dps(tmp_path):
    with DemoServices(tmp_path / "d", dps=True) as services:
        bench = make_env(services)
        try:
            device_port = services.add_instrument("mx200", "MX2G0001")
            ws_port = services.add_instrument("mx300", "MX3G0001", keygen=False, register_handler=None)
            outcome = provision_unit(bench, "MX2G0001", device_port, model="mx200", options=FAST)
            assert outcome.state == "done" and outcome.registration.startswith("assigned to")
            assert bench.central.get_device(outcome.cn).provisioned
            outcome = provision_unit(bench, "MX3G0001", ws_port, model="mx300", options=FAST)  # workstation-side check
            assert outcome.state == "done" and outcome.registration.startswith("assigned to")
            events = [e.event for e in bench.registry.unit_events(outcome.cn)]
            assert "unit.registered" in events
        finally:
            bench.close()
