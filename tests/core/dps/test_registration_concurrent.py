"""Registrations side by side (one per bench port): each gets its own outcome, with the error
body DPS sent for it, and the SDK's debug records still stay out of the application's logs."""

from __future__ import annotations

import logging
import threading

from certbench.core.dps import register as reg
from certbench.core.dps import register_with_dps


def test_concurrent_registrations_each_get_their_own_outcome(dps, verified_group, central_client, make_unit, caplog):
    good = [make_unit(f"mc-par-{n:06d}") for n in range(4)]
    lone = [make_unit(f"mc-lone-{n:06d}") for n in range(2)]
    other = make_unit("mc-other-000001", intermediate="medicorp-ica-2")  # intermediate not verified
    jobs = [(u, u.chain) for u in good] + [(u, [u.leaf]) for u in lone] + [(other, other.chain)]
    outcomes: dict[str, reg.RegistrationOutcome] = {}
    inside = threading.Barrier(len(jobs))

    def run(unit, chain) -> None:
        inside.wait(10)
        outcomes[unit.leaf.subject.rfc4514_string()] = register_with_dps(
            chain, unit.key, id_scope=dps.id_scope, host=dps.host, server_ca_pem=dps.ca_pem, timeout=30)

    caplog.set_level(logging.DEBUG, logger="certbench")
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(outcomes) == len(jobs)
    for unit in good:
        outcome = outcomes[unit.leaf.subject.rfc4514_string()]
        assert outcome.ok and outcome.device_id == unit.leaf.subject.rfc4514_string()[3:]
        assert 401 not in outcome.statuses_seen and outcome.statuses_seen[-1] == 200
        assert central_client.get_device(outcome.device_id).provisioned
    for unit in lone:
        outcome = outcomes[unit.leaf.subject.rfc4514_string()]
        assert (outcome.reason, outcome.error_code) == (reg.MISSING_INTERMEDIATE, 401002)
        assert outcome.statuses_seen == (401,)  # only its own answers, none of the others'
    outcome = outcomes[other.leaf.subject.rfc4514_string()]
    assert (outcome.reason, outcome.error_code) == (reg.CA_NOT_VERIFIED, 401002)
    # the SDK's debug records were listened to, never passed on
    assert not [r for r in caplog.records if r.name == reg.SDK_STAGES_LOGGER and r.levelno < logging.INFO]
    assert logging.getLogger(reg.SDK_STAGES_LOGGER).filters == []
