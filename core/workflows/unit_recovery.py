"""Recovery paths of the unit workflow that change more than one record: replacing a lost
key (its certificate is revoked and the unit continues under a new generation), and rolling
back an abandoned unit (ABORT on the instrument, the order written off, an issued
certificate revoked). Both are explicit: the workflow never takes them on its own."""

from __future__ import annotations

from certbench.core.bench import BenchEnv
from certbench.core.registry import CertificateRecord, UnitState
from certbench.core.workflows import unit_steps as steps
from certbench.core.workflows.progress import ProgressCallback, ProgressReporter
from certbench.core.workflows.unit_errors import KeyLost, UnitRefused
from certbench.core.workflows.unit_steps import ProvisionOptions, UnitRun

S = UnitState
COMMITTED = (S.INSTALLED, S.VERIFIED, S.REGISTERED)


def revoke_at_issuer(env: BenchEnv, cert: CertificateRecord, reason: str) -> str:
    """Revoke the certificate of `cert`'s order. Returns "revoked" or "already revoked"."""
    from certbench.core.pki.sectigo.errors import SectigoRevoked

    try:
        env.issuer.revoke(cert.order_id, reason)
    except SectigoRevoked:
        return "already revoked"
    return "revoked"


def replace_lost_key(run: UnitRun, lost: KeyLost) -> None:
    """The key a unit's certificate was ordered for is gone: collect that certificate (so it is
    on record), revoke it at the issuer, mark it revoked, and start the unit again under a new
    generation with the same CN. The caller's loop then makes a new key and orders once."""
    unit = run.unit
    assert unit is not None
    with run.reporter.step("replace-key", "Replacing the lost key: revoking the certificate ordered for it.",
                           cn=unit.cn) as out:
        run.audit("unit.key_lost", "failed", error=lost.message, state=unit.state.value)
        if unit.state == S.CERT_ORDERED:
            steps.collect(run)
        cert = run.registry.current_certificate(run.refresh())
        assert cert is not None
        result = revoke_at_issuer(run.env, cert, "superseded")
        unit = run.registry.mark_revoked(run.unit, f"key lost before installation ({cert.order_id} {result})",
                                         actor=run.actor)
        run.unit = run.registry.reprovision(unit, "replacing a lost key; the new key gets a new certificate",
                                            actor=run.actor)
        run.env.keys.discard(unit.id)
        run.issued = None
        run.csr = None
        run.key_origin = None
        out.update(revoked_order=cert.order_id, generation=run.unit.generation,
                   message=f"Certificate of order {cert.order_id} {result}; continuing as generation {run.unit.generation}.")


def roll_back_unit(
    env: BenchEnv,
    cn: str,
    reason: str,
    *,
    port: str | None = None,
    progress: ProgressCallback | None = None,
) -> str:
    """Abandon an unfinished unit: ABORT on its instrument (staged content and the pending
    key discarded; nothing was committed), its open order written off (and revoked where
    the CA allows), an issued certificate revoked. Returns the unit's final state."""
    reporter = ProgressReporter(progress)
    unit = env.registry.get_unit(cn)
    origin = unit.failed_from if unit.state == S.FAILED else unit.state
    if unit.state in (S.DONE, S.ROLLED_BACK, S.REVOKED):
        raise UnitRefused(f"Unit {cn} is {unit.state.value.replace('_', ' ')}; there is nothing to roll back.",
                          f"To withdraw a provisioned unit, decommission it: `certbench unit decommission {cn}`.")
    if origin in COMMITTED:
        raise UnitRefused(f"Unit {cn}'s credentials are already committed on the instrument ({origin.value}); "
                          "a roll-back cannot undo that.",
                          f"Decommission it instead (revokes and wipes): `certbench unit decommission {cn} --port PORT`.")
    run = UnitRun(env, reporter, ProvisionOptions(), env.settings.product(unit.model), unit=unit)
    try:
        if port:
            steps.connect(run, port)
            steps.check_identity(run, unit.serial, unit.model)
            with reporter.step("abort", "Discarding what was staged on the instrument, and its pending key.") as out:
                assert run.instrument is not None
                run.instrument.abort(discard_key=True)
                out["message"] = "Staging area and pending key discarded; nothing was committed."
            run.audit("unit.instrument_aborted", discard_key=True)
        else:
            reporter.skip("abort", "No instrument connected: its staging area is discarded when it is provisioned next.")
        cert = env.registry.current_certificate(unit)
        with reporter.step("rollback", f"Rolling back {cn}.", reason=reason) as out:
            run.unit = env.registry.roll_back(unit, reason, actor=env.actor)
            revoked = None
            if cert is not None and cert.status == "issued":
                revoked = revoke_at_issuer(env, cert, "cessationOfOperation")
                run.unit = env.registry.mark_revoked(run.unit, f"rolled back: {reason}", actor=env.actor)
            elif cert is not None and cert.status == "ordered":
                try:
                    env.issuer.revoke(cert.order_id, "cessationOfOperation")
                    revoked = "revoked"
                except Exception as exc:  # noqa: BLE001 - a CA may refuse to revoke what it has not issued
                    revoked = f"not revoked ({getattr(exc, 'message', exc)})"
                run.audit("unit.order_abandoned", order_id=cert.order_id, revocation=revoked)
            env.keys.discard(unit.id)
            out.update(state=run.unit.state.value, order_id=cert.order_id if cert else None, revocation=revoked,
                       message=f"{cn} rolled back" + (f"; order {cert.order_id} {revoked}" if cert else "") + ".")
        return run.unit.state.value
    finally:
        if run.instrument is not None:
            run.instrument.close()


__all__ = ["replace_lost_key", "revoke_at_issuer", "roll_back_unit"]
