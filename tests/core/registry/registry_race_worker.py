"""Runs in a separate process (spawned, as on Windows): one bench reserving CNs."""

from __future__ import annotations

import random


def reserve_all(url: str, bench: int, cns: list[str], barrier, results) -> None:
    from certbench.core.registry import Actor, ReservationConflict, open_registry

    registry = open_registry(url)
    actor = Actor(f"operator-{bench}", f"BENCH-{bench:02d}")
    order = list(cns)
    random.Random(bench).shuffle(order)
    outcome = []
    try:
        barrier.wait(timeout=120)
        for cn in order:
            try:
                unit = registry.reserve(cn.split("-")[-1], "MX-200", None, cn, actor=actor)
                outcome.append(("won", cn, unit.workstation, unit.operator, ""))
            except ReservationConflict as exc:
                holder = exc.holder
                outcome.append(("lost", cn, holder.workstation if holder else "", holder.operator if holder else "",
                                f"{exc.message} | {exc.hint}"))
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
                outcome.append(("error", cn, "", "", repr(exc)))
    finally:
        registry.close()
        results.put((bench, outcome))
