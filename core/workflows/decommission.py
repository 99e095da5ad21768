"""The end of a unit's identity, explicit and audited:

- **re-provision** (board swap, renewal): the old certificate is revoked at the issuer and
  marked superseded, the IoT Central device is reset to "not provisioned" so the new identity
  can register under the same name, and the unit starts again (generation + 1) from
  `cn_reserved`; with a port, the new identity is provisioned right away.
- **decommission** (return, scrap): an unfinished unit is rolled back, the certificate is
  revoked, the IoT Central device deleted (or disabled), the instrument wiped when it is
  connected; the unit ends `revoked`.
"""

from __future__ import annotations

from typing import Any

from certbench.core.bench import BenchEnv
from certbench.core.registry import UnitState
from certbench.core.registry.states import IN_PROGRESS
from certbench.core.workflows import unit_steps as steps
from certbench.core.workflows.progress import ProgressCallback, ProgressReporter
from certbench.core.workflows.unit_errors import UnitRefused
from certbench.core.workflows.unit_provisioning import UnitOutcome, advance, _close
from certbench.core.workflows.unit_recovery import revoke_at_issuer, roll_back_unit
from certbench.core.workflows.unit_steps import ProvisionOptions, UnitRun

S = UnitState
DEVICE_ACTIONS = ("delete", "disable", "keep")


def _reset_central_device(run: UnitRun, cn: str) -> str:
    """Delete and re-create a provisioned device so it is "not provisioned" again (IoT Central
    has no other way); display name, template and enabled state are kept."""
    central = run.env.require_central()
    device = central.find_device(cn)
    if device is None:
        return "absent"
    if not device.provisioned:
        return "not provisioned"
    central.delete_device(cn)
    central.create_device(cn, display_name=device.display_name, template=device.template, enabled=device.enabled)
    run.audit("iotcentral.device_reset", device=cn, template=device.template, enabled=device.enabled)
    return "reset"


def reprovision_unit(
    env: BenchEnv,
    cn: str,
    reason: str,
    *,
    port: str | None = None,
    progress: ProgressCallback | None = None,
    options: ProvisionOptions | None = None,
) -> UnitOutcome:
    """Give a done, rolled-back or revoked unit a new identity under the same CN."""
    reporter = ProgressReporter(progress)
    unit = env.registry.get_unit(cn)
    if unit.state not in (S.DONE, S.ROLLED_BACK, S.REVOKED):
        raise UnitRefused(
            f"Unit {cn} is {unit.state.value.replace('_', ' ')}, so it cannot be re-provisioned yet.",
            f"Finish it first (`certbench unit resume {cn} --port PORT`), or roll it back (`certbench unit rollback {cn}`).",
        )
    run = UnitRun(env, reporter, options or ProvisionOptions(), env.settings.product(unit.model), unit=unit)
    try:
        if port:
            # The instrument is checked before anything is revoked: a wrong unit changes nothing.
            steps.connect(run, port)
            steps.check_identity(run, unit.serial, unit.model)
        steps.check_intermediate_verified(run)
        cert = env.registry.current_certificate(unit)
        with reporter.step("revoke", "Revoking the old certificate at the issuer.") as out:
            if cert is not None and cert.status in ("issued", "installed"):
                result = revoke_at_issuer(env, cert, "superseded")
                run.audit("unit.certificate_revoked", order_id=cert.order_id, sha256=cert.sha256, result=result,
                          reason=reason)
                out.update(order_id=cert.order_id, message=f"Old certificate (order {cert.order_id}) {result}.")
            else:
                out.update(message="No live certificate to revoke.")
        with reporter.step("central-reset", f"Resetting device '{cn}' in IoT Central.") as out:
            state = _reset_central_device(run, cn)
            out.update(result=state, message=f"IoT Central device '{cn}': {state}.")
        with reporter.step("reprovision", f"Starting {cn} again under a new generation.", reason=reason) as out:
            run.unit = env.registry.reprovision(unit, reason, actor=env.actor)
            env.keys.discard(unit.id)
            out.update(generation=run.unit.generation, message=f"{cn} is now generation {run.unit.generation}.")
        if run.instrument is None:
            from certbench.core.workflows.unit_provisioning import _outcome

            return _outcome(run)
        return advance(run)
    finally:
        _close(run)


def decommission_unit(
    env: BenchEnv,
    cn: str,
    reason: str,
    *,
    port: str | None = None,
    device_action: str = "delete",
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Withdraw a unit for good (return, scrap). Returns what was done, step by step."""
    if device_action not in DEVICE_ACTIONS:
        raise UnitRefused(f"Unknown IoT Central action '{device_action}'.", f"Use one of: {', '.join(DEVICE_ACTIONS)}.")
    reporter = ProgressReporter(progress)
    registry = env.registry
    unit = registry.get_unit(cn)
    summary: dict[str, Any] = {"cn": cn, "reason": reason}
    run = UnitRun(env, reporter, ProvisionOptions(), env.settings.product(unit.model), unit=unit)
    try:
        if port:
            steps.connect(run, port)
            steps.check_identity(run, unit.serial, unit.model)
        origin = unit.failed_from if unit.state == S.FAILED else unit.state
        if unit.state in (*IN_PROGRESS, S.FAILED) and origin in (S.SCANNED, S.CN_RESERVED, S.KEY_READY, S.CERT_ORDERED,
                                                                   S.CERT_ISSUED):
            # Nothing committed yet: the roll-back also revokes an issued certificate.
            _close(run)
            run.instrument = None
            summary["rolled_back"] = roll_back_unit(env, cn, f"decommissioned: {reason}", port=port, progress=progress)
            if port:
                steps.connect(run, port)
        elif unit.state in (*IN_PROGRESS, S.FAILED):
            run.unit = registry.fail(unit, f"decommissioned: {reason}", actor=env.actor) if unit.state != S.FAILED else unit
        unit = registry.get_unit(cn)
        run.unit = unit
        cert = registry.current_certificate(unit)
        with reporter.step("revoke", "Revoking the unit's certificate.") as out:
            if cert is not None and cert.status in ("issued", "installed"):
                result = revoke_at_issuer(env, cert, "cessationOfOperation")
                run.unit = registry.mark_revoked(unit, f"decommissioned: {reason}", actor=env.actor)
                summary["revoked"] = {"order_id": cert.order_id, "result": result}
                out.update(order_id=cert.order_id, message=f"Certificate of order {cert.order_id} {result}.")
            else:
                summary["revoked"] = None
                out.update(message="No live certificate to revoke.")
        with reporter.step("central", f"Removing device '{cn}' from IoT Central ({device_action}).") as out:
            done = "kept"
            if device_action != "keep":
                central = env.require_central()
                device = central.find_device(cn)
                if device is None:
                    done = "absent"
                elif device_action == "delete":
                    central.delete_device(cn)
                    done = "deleted"
                else:
                    central.update_device(cn, {"enabled": False})
                    done = "disabled"
            summary["iotcentral"] = done
            run.audit("unit.device_removed", action=device_action, result=done)
            out.update(result=done, message=f"IoT Central device '{cn}': {done}.")
        if run.instrument is not None:
            with reporter.step("wipe", "Wiping the instrument's credentials.") as out:
                run.instrument.wipe()
                summary["wiped"] = True
                out["message"] = "Instrument wiped: no key, certificate or trust store left."
            run.audit("unit.instrument_wiped", serial=unit.serial)
        else:
            summary["wiped"] = False
            reporter.skip("wipe", "No instrument connected: it was not wiped.")
        final = registry.get_unit(cn)
        run.unit = final
        run.audit("unit.decommissioned", reason=reason, state=final.state.value,
                  iotcentral=summary["iotcentral"], wiped=summary["wiped"])
        summary["state"] = final.state.value
        return summary
    finally:
        _close(run)


__all__ = ["DEVICE_ACTIONS", "decommission_unit", "reprovision_unit"]
