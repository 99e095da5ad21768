"""Eight benches (real, separate processes) reserve the same CNs at the same moment: each CN
ends up with exactly one unit, and every bench that lost was told who holds it."""

from __future__ import annotations

import multiprocessing
import queue
from collections import Counter, defaultdict

import pytest
from registry_race_worker import reserve_all
from sqlalchemy import text

from certbench.core.registry import open_registry

BENCHES = 8
CNS = [f"mx-200-sn{n:05d}" for n in range(30)]


@pytest.mark.slow
def test_eight_benches_reserving_overlapping_cns(registry_url):
    with open_registry(registry_url):  # schema created once, as the first bench would
        pass
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(BENCHES)
    results = ctx.Queue()
    processes = [ctx.Process(target=reserve_all, args=(registry_url, n, CNS, barrier, results))
                 for n in range(1, BENCHES + 1)]
    for process in processes:
        process.start()
    outcomes = {}
    try:
        for _ in processes:
            bench, outcome = results.get(timeout=240)
            outcomes[bench] = outcome
    except queue.Empty:
        pytest.fail(f"only {len(outcomes)} of {BENCHES} benches finished")
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    assert all(p.exitcode == 0 for p in processes)

    attempts = [(bench, *entry) for bench, outcome in outcomes.items() for entry in outcome]
    assert not [a for a in attempts if a[1] == "error"], [a for a in attempts if a[1] == "error"][:3]
    assert len(attempts) == BENCHES * len(CNS)

    winners = {}
    for bench, result, cn, *_ in attempts:
        if result == "won":
            assert cn not in winners, f"{cn} was reserved twice"
            winners[cn] = bench
    assert sorted(winners) == CNS  # every CN has exactly one winner

    losers = defaultdict(list)
    for bench, result, cn, workstation, operator, message in attempts:
        if result == "lost":
            losers[cn].append(bench)
            # The loser was told precisely who holds it.
            winner = winners[cn]
            assert (workstation, operator) == (f"BENCH-{winner:02d}", f"operator-{winner}")
            assert f"BENCH-{winner:02d}" in message and f"operator-{winner}" in message
            assert "re-provision" in message
    assert all(len(benches) == BENCHES - 1 for benches in losers.values())

    with open_registry(registry_url) as registry:
        with registry.engine.connect() as conn:
            rows = conn.execute(text("SELECT cn, workstation FROM units")).all()
        assert len(rows) == len(CNS)
        assert Counter(cn for cn, _ in rows) == Counter(CNS)
        assert {cn: ws for cn, ws in rows} == {cn: f"BENCH-{b:02d}" for cn, b in winners.items()}
        # Every attempt is in one unbroken chain: 2 events per win, 1 refusal per loss.
        report = registry.verify()
        assert report.ok, report.broken
        events = list(registry.events())
        assert Counter(e.outcome for e in events) == {"ok": 2 * len(CNS), "refused": (BENCHES - 1) * len(CNS)}


def test_one_registry_shared_by_worker_threads(registry):
    # The GUI runs registry calls on a worker pool: one Registry object, several threads.
    from concurrent.futures import ThreadPoolExecutor

    from certbench.core.registry import Actor, ReservationConflict

    def bench(n):
        actor, results = Actor(f"operator-{n}", f"BENCH-T{n}"), []
        for cn in CNS[:10]:
            try:
                registry.reserve(cn.split("-")[-1], "MX-200", None, cn, actor=actor)
                results.append("won")
            except ReservationConflict as exc:
                assert exc.holder.workstation.startswith("BENCH-T")
                results.append("lost")
        return results

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(bench, range(4)))
    assert sum(r.count("won") for r in results) == 10
    assert sum(r.count("lost") for r in results) == 30
    assert registry.count_units() == 10
    assert registry.verify().ok
