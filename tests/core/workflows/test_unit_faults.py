"""Faults during unit provisioning, each end to end: the CA slow or down, the cable pulled at
every step, the bench process killed between ordering and collecting. After each, resuming
finishes the unit with exactly one certificate ordered."""

from __future__ import annotations

import pytest
from unit_fixtures import FAST, assert_installed, demo, env, make_env, orders_for  # noqa: F401 - fixtures

from certbench.core.demo import DemoServices
from certbench.core.errors import ServiceError
from certbench.core.instrument.errors import InstrumentDisconnected
from certbench.core.registry import UnitState
from certbench.core.workflows.unit_errors import KeyLost
from certbench.core.workflows.unit_provisioning import STEPS, provision_unit, resume_unit
from certbench.core.workflows.unit_steps import ProvisionOptions


def test_issuer_pending_then_issued(tmp_path):
    with DemoServices(tmp_path / "d", dps=False, sectigo_options={"pending_collects": 3}) as services:
        bench = make_env(services)
        try:
            port = services.add_instrument("mx200", "MX2P0001")
            events = []
            outcome = provision_unit(bench, "MX2P0001", port, model="mx200", progress=events.append, options=FAST)
            assert outcome.state == "done"
            waits = [e for e in events if e.step == "collect" and e.detail.get("pending")]
            assert len(waits) >= 3 and "being processed" in waits[0].message
            assert len(orders_for(services, outcome.cn)) == 1
        finally:
            bench.close()


def test_issuer_still_pending_at_the_limit_fails_and_resume_collects_the_same_order(tmp_path):
    with DemoServices(tmp_path / "d", dps=False) as services:
        bench = make_env(services)
        try:
            port = services.add_instrument("mx200", "MX2P0002")
            services.sectigo.app.pending_forever = True
            short = ProvisionOptions(collect_poll_interval=0.02, collect_poll_max_interval=0.05, collect_limit_seconds=0.2)
            with pytest.raises(Exception, match="not ready|not issued|pending"):
                provision_unit(bench, "MX2P0002", port, model="mx200", options=short)
            unit = bench.registry.get_unit("mx200-mx2p0002")
            assert (unit.state, unit.failed_from) == (UnitState.FAILED, UnitState.CERT_ORDERED)
            services.sectigo.app.pending_forever = False
            assert resume_unit(bench, "mx200-mx2p0002", port, options=FAST).state == "done"
            assert len(orders_for(services, "mx200-mx2p0002")) == 1
        finally:
            bench.close()


@pytest.mark.parametrize("where", ["order", "collect"])
def test_issuer_down_then_back(demo, env, where):
    port = demo.add_instrument("mx200", "MX2D0001")
    app = demo.sectigo.app
    if where == "order":
        app.faults.add("503", 1000, path=r"/enroll")
    else:
        app.faults.add("503", 1000, path=r"/collect/")
    with pytest.raises(ServiceError, match="not available"):
        provision_unit(env, "MX2D0001", port, model="mx200", options=FAST)
    unit = env.registry.get_unit("mx200-mx2d0001")
    expected = UnitState.KEY_READY if where == "order" else UnitState.CERT_ORDERED
    assert (unit.state, unit.failed_from) == (UnitState.FAILED, expected)
    assert len(orders_for(demo, "mx200-mx2d0001")) == (0 if where == "order" else 1)
    app.faults.clear()
    assert resume_unit(env, "mx200-mx2d0001", port, options=FAST).state == "done"
    assert len(orders_for(demo, "mx200-mx2d0001")) == 1
    assert_installed(demo, port, env, "mx200-mx2d0001")


class _PullCable:
    """Pulls the simulated instrument's cable at the first instrument request made once the
    named workflow step has started (before or after the instrument acted on it)."""

    def __init__(self, sim, step: str, after_handling: bool) -> None:
        self.sim, self.step, self.after_handling = sim, step, after_handling
        self.armed = False

    def __call__(self, event) -> None:
        if not self.armed and event.step == self.step and event.status == "started":
            self.armed = True
            self.sim.faults.disconnect_at = self.sim.stats.requests + 1
            self.sim.faults.disconnect_after_handling = self.after_handling


@pytest.mark.parametrize("after_handling", [False, True], ids=["before-acting", "after-acting"])
@pytest.mark.parametrize("step", STEPS[1:-1])
def test_cable_pulled_at_every_step_then_resumed(demo, env, step, after_handling):
    port = demo.add_instrument("mx200", "MX2C0001")
    sim = demo.instrument(port)
    pull = _PullCable(sim, step, after_handling)
    cn = "mx200-mx2c0001"
    try:
        provision_unit(env, "MX2C0001", port, model="mx200", progress=pull, options=FAST)
        pulled = False
    except InstrumentDisconnected:
        pulled = True
    assert pull.armed
    # Steps that talk to the instrument lose it; the others meet the pulled cable later on.
    assert pulled and sim.stats.disconnects == 1
    unit = env.registry.find_unit(cn)
    if unit is None:  # pulled before anything was reserved: the technician scans again
        outcome = provision_unit(env, "MX2C0001", port, model="mx200", options=FAST)
    elif unit.state != UnitState.DONE:
        assert unit.state == UnitState.FAILED
        outcome = resume_unit(env, cn, port, options=FAST)
    else:
        outcome = None  # the pull landed after the last instrument request
    assert env.registry.get_unit(cn).state == UnitState.DONE
    if outcome is not None:
        assert outcome.state == "done" and outcome.key_origin == "device"  # known after a resume, too
    assert len(orders_for(demo, cn)) == 1
    assert_installed(demo, port, env, cn)


@pytest.mark.parametrize("step", ["stage", "commit"])
def test_cable_pulled_with_a_workstation_key_resumes_in_the_same_process(demo, env, step):
    port = demo.add_instrument("mx300", "MX3C0001")
    pull = _PullCable(demo.instrument(port), step, after_handling=True)
    with pytest.raises(InstrumentDisconnected):
        provision_unit(env, "MX3C0001", port, model="mx300", progress=pull, options=FAST)
    assert resume_unit(env, "mx300-mx3c0001", port, options=FAST).state == "done"
    assert len(orders_for(demo, "mx300-mx3c0001")) == 1
    assert_installed(demo, port, env, "mx300-mx3c0001")


class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches or records it."""


class _DiesBeforeCollecting:
    def __init__(self, issuer) -> None:
        self.issuer = issuer

    def __getattr__(self, name):
        return getattr(self.issuer, name)

    def collect(self, *args, **kwargs):
        raise _Killed()


def _kill_between_order_and_collect(demo, serial, model):
    port = demo.add_instrument(model, serial)
    first = make_env(demo)
    first.issuer = _DiesBeforeCollecting(first.issuer)
    with pytest.raises(_Killed):
        provision_unit(first, serial, port, model=model, options=FAST)
    first.close()
    return port


def test_process_killed_between_order_and_collect_then_resumed_orders_once(demo):
    port = _kill_between_order_and_collect(demo, "MX2K0001", "mx200")
    cn = "mx200-mx2k0001"
    later = make_env(demo)  # a new process: new connections, nothing in memory
    try:
        assert later.registry.get_unit(cn).state == UnitState.CERT_ORDERED
        outcome = resume_unit(later, cn, port, options=FAST)
        assert outcome.state == "done"
        assert len(orders_for(demo, cn)) == 1
        assert outcome.order_id == str(orders_for(demo, cn)[0].id)
        assert_installed(demo, port, later, cn)
    finally:
        later.close()


def test_workstation_key_lost_by_a_kill_is_replaced_only_when_asked(demo):
    port = _kill_between_order_and_collect(demo, "MX3K0001", "mx300")
    cn = "mx300-mx3k0001"
    later = make_env(demo)
    try:
        with pytest.raises(KeyLost, match="lost") as caught:
            resume_unit(later, cn, port, options=FAST)
        assert "--replace-lost-key" in caught.value.hint
        assert len(orders_for(demo, cn)) == 1  # refusing ordered nothing
        unit = later.registry.get_unit(cn)
        assert (unit.state, unit.failed_from) == (UnitState.FAILED, UnitState.CERT_ORDERED)

        replace = ProvisionOptions(**{**FAST.__dict__, "replace_lost_key": True})
        outcome = resume_unit(later, cn, port, options=replace)
        assert (outcome.state, outcome.generation) == ("done", 2)
        orders = orders_for(demo, cn)
        assert len(orders) == 2 and orders[0].status == "REVOKED" and orders[1].status == "ISSUED"
        certs = later.registry.certificates(cn)
        assert [(c.generation, c.status) for c in certs] == [(1, "revoked"), (2, "installed")]
        assert [e.event for e in later.registry.unit_events(cn)].count("unit.key_lost") == 1
        assert_installed(demo, port, later, cn)
    finally:
        later.close()
