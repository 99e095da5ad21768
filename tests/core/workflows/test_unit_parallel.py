"""Several instruments at once: eight simulated instruments on eight ports provisioned in
parallel with one BenchEnv (one registry, one issuer, one IoT Central client), against the
IoT Central and Sectigo emulators; one unit's pulled cable fails it alone, then it resumes."""

from __future__ import annotations

from collections import Counter

from unit_fixtures import FAST, assert_installed, demo, env, orders_for  # noqa: F401 - fixtures

from certbench.core.instrument.errors import InstrumentDisconnected
from certbench.core.registry import UnitState
from certbench.core.workflows.parallel import UnitJob, provision_many

MODELS = ("mx200", "mx300", "vx10", "lx5")


def _eight(demo) -> list[UnitJob]:
    jobs = []
    for n in range(8):
        model = MODELS[n % 4]
        serial = f"{model.upper()}P{n:04d}"
        jobs.append(UnitJob(serial, demo.add_instrument(model, serial), model=model))
    return jobs


def _max_overlap(events) -> int:
    """How many units were in flight at once, from each port's first and last event."""
    spans: dict[str, list] = {}
    for tagged in events:
        span = spans.setdefault(tagged.port, [tagged.event.at, tagged.event.at])
        span[0], span[1] = min(span[0], tagged.event.at), max(span[1], tagged.event.at)
    edges = sorted([(a, 1) for a, _ in spans.values()] + [(b, -1) for _, b in spans.values()], key=lambda e: (e[0], e[1]))
    running = best = 0
    for _, step in edges:
        running += step
        best = max(best, running)
    return best


def test_eight_instruments_at_once_one_identity_and_one_order_each(demo, env):
    jobs = _eight(demo)
    events, finished = [], []
    results = provision_many(env, jobs, progress=events.append, on_result=finished.append, options=FAST)

    assert [r.index for r in results] == list(range(8)) and len(finished) == 8
    assert all(r.ok for r in results), [r.reason for r in results if not r.ok]
    cns = [r.outcome.cn for r in results]
    assert len(set(cns)) == 8 and env.registry.count_units() == 8
    for job, result in zip(jobs, results):
        assert result.outcome.state == "done" and result.outcome.serial.upper() == job.scan
        assert len(orders_for(demo, result.outcome.cn)) == 1  # exactly one order per unit
        assert_installed(demo, job.port, env, result.outcome.cn)
    # key origins as the products say, each run on its own thread, really side by side
    origins = Counter((r.outcome.model, r.outcome.key_origin) for r in results)
    assert origins == {("mx200", "device"): 2, ("mx300", "workstation"): 2, ("vx10", "device"): 2,
                       ("lx5", "workstation"): 2}
    assert len({r.thread for r in results}) == 8
    assert _max_overlap(events) >= 2
    # every event tagged with the port of the unit it belongs to
    for tagged in events:
        if "serial" in tagged.event.detail:
            assert tagged.port == f"sim:{tagged.event.detail['serial']}"
    assert {t.port for t in events} == {j.port for j in jobs}
    # the shared registry's audit chain is intact after eight writers
    assert env.registry.verify().ok
    assert len(env.keys) == 0


def test_a_pulled_cable_fails_its_unit_alone_and_it_resumes(demo, env):
    jobs = _eight(demo)
    victim = jobs[5]  # an mx300: workstation key, so the key must survive in memory for the resume
    sim = demo.instrument(victim.port)
    pulled = []

    def pull_at_commit(tagged) -> None:
        if tagged.port == victim.port and tagged.event.step == "commit" and tagged.event.status == "started" \
                and not pulled:
            pulled.append(True)
            sim.faults.disconnect_at = sim.stats.requests + 1
            sim.faults.disconnect_after_handling = True  # the instrument committed; its answer is lost

    results = provision_many(env, jobs, progress=pull_at_commit, options=FAST)
    failed = [r for r in results if not r.ok]
    assert pulled and [r.job for r in failed] == [victim]
    assert isinstance(failed[0].error, InstrumentDisconnected)
    assert all(r.outcome.state == "done" for r in results if r.ok)
    cn = "mx300-mx300p0005"
    unit = env.registry.get_unit(cn)
    assert (unit.state, unit.failed_from) == (UnitState.FAILED, UnitState.CERT_ISSUED)

    again = provision_many(env, [UnitJob(None, victim.port, resume_cn=cn)], options=FAST)
    assert again[0].ok and again[0].outcome.state == "done" and again[0].outcome.resumed
    assert len(orders_for(demo, cn)) == 1
    assert_installed(demo, victim.port, env, cn)
    assert env.registry.verify().ok


def test_at_most_workers_units_run_at_once_and_a_port_never_twice(demo, env):
    jobs = _eight(demo)[:4]
    # the same port listed twice: its second job (the unit already done) waits for the first
    jobs.append(UnitJob(jobs[0].scan, jobs[0].port, model=jobs[0].model, label="again"))
    events = []
    results = provision_many(env, jobs, workers=2, progress=events.append, options=FAST)
    assert [r.ok for r in results] == [True, True, True, True, False]
    assert "already provisioned" in results[4].reason
    assert len({r.thread for r in results}) == 2
    assert _max_overlap([e for e in events if e.index < 4]) <= 2
    first_port = [e for e in events if e.port == jobs[0].port]
    assert [e.index for e in first_port] == sorted(e.index for e in first_port)  # one after the other


def test_stop_lets_running_units_finish_and_starts_no_new_one(demo, env):
    import threading

    jobs = _eight(demo)[:3]
    stop = threading.Event()
    results = provision_many(env, jobs, workers=1, on_result=lambda r: stop.set(), options=FAST, stop=stop)
    assert [r.job for r in results] == [jobs[0]] and results[0].ok
    assert env.registry.count_units() == 1  # the two others were never scanned
