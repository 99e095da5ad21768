"""Provisioning one unit end to end, resumable at every step:

scan -> connect and HELLO -> the instrument must be the scanned unit (serial, model) -> CN
from the template -> the product's intermediate must be verified in IoT Central -> the CN
must be free in IoT Central -> reserve the unit in the registry (race-safe) -> key (KEYGEN
on the instrument, or a workstation key held in memory) -> order (order id recorded before
collecting) -> collect -> validate the chain for client auth -> stage trust store, chain
(and key) -> COMMIT -> HASH read-back -> SIGN challenge -> registration check -> done.

Each registry state is the checkpoint: `resume_unit(env, cn, port)` continues from wherever
a crash, a pulled cable or a service outage stopped it (see `advance()` for what each state
does next), never ordering a second certificate for the same generation. A failing step
leaves the unit `failed` (it remembers where); resuming retries exactly that step.

Safe to run N at once on N ports with one `BenchEnv`: nothing here is shared between runs
except the thread-safe registry, issuer, IoT Central client and key holder.
See docs/unit-provisioning.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from certbench.core.bench import BenchEnv
from certbench.core.errors import CertbenchError
from certbench.core.registry import UnitRecord, UnitState
from certbench.core.registry.states import IN_PROGRESS
from certbench.core.workflows import unit_steps as steps
from certbench.core.workflows.progress import ProgressCallback, ProgressEvent, ProgressReporter
from certbench.core.workflows.unit_errors import KeyLost, UnitRefused
from certbench.core.workflows.unit_steps import ProvisionOptions, UnitRun

S = UnitState
STEPS = ("scan", "connect", "identify", "intermediate", "central", "reserve", "key", "order", "collect", "validate",
         "stage", "commit", "readback", "possession", "registration")


@dataclass(frozen=True)
class UnitOutcome:
    cn: str
    serial: str
    model: str
    state: str
    generation: int
    key_origin: str | None
    order_id: str | None
    certificate_sha256: str | None
    resumed: bool
    registration: str | None
    notes: tuple[str, ...] = ()
    events: tuple[ProgressEvent, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cn": self.cn, "serial": self.serial, "model": self.model, "state": self.state,
            "generation": self.generation, "key_origin": self.key_origin, "order_id": self.order_id,
            "certificate_sha256": self.certificate_sha256, "resumed": self.resumed,
            "registration": self.registration, "notes": list(self.notes),
        }


def provision_unit(
    env: BenchEnv,
    scan: Any,
    port: str,
    *,
    model: str | None = None,
    progress: ProgressCallback | None = None,
    options: ProvisionOptions | None = None,
) -> UnitOutcome:
    """Provision the unit whose label gave `scan` (the scanned text, or a ScanResult) on the
    instrument at `port`. `model` is needed for a plain serial number. A scan of a unit this
    bench left unfinished resumes it."""
    from certbench.core.naming.scan import ScanResult, interpret_scan

    settings = env.settings
    reporter = ProgressReporter(progress)
    with reporter.step("scan", "Reading the scan.") as out:
        result = scan if isinstance(scan, ScanResult) else interpret_scan(str(scan), settings)
        cn = result.common_name(settings.cn_template(), model)
        product = settings.product(result.model or model or "")
        out.update(serial=result.serial, model=product.model, gtin=result.gtin, cn=cn,
                   message=f"Unit {product.model} serial {result.serial}: device name {cn}.")
    run = UnitRun(env, reporter, options or ProvisionOptions(), product)
    try:
        steps.connect(run, port)
        steps.check_identity(run, result.serial, product.model)
        existing = env.registry.find_unit(serial=result.serial, model=product.model)
        if existing is not None:
            run.unit = _claim_existing(run, existing)
            run.resumed = True
            run.flush_audit()
            return advance(run)
        steps.check_intermediate_verified(run)
        steps.check_central_device(run, cn, 1)
        with reporter.step("reserve", f"Reserving {cn} in the registry.", cn=cn) as out:
            run.unit = env.registry.reserve(result.serial, product.model, result.gtin, cn, actor=env.actor,
                                            firmware=run.info.firmware if run.info else None)
            out.update(unit_id=run.unit.id, message=f"{cn} reserved (unit #{run.unit.id}).")
        run.flush_audit()
        return advance(run, central_checked=True)
    finally:
        _close(run)


def resume_unit(
    env: BenchEnv,
    cn: str,
    port: str,
    *,
    progress: ProgressCallback | None = None,
    options: ProvisionOptions | None = None,
) -> UnitOutcome:
    """Continue an interrupted or failed unit from its recorded state on the instrument at
    `port` (which must report the unit's serial and model)."""
    reporter = ProgressReporter(progress)
    unit = env.registry.get_unit(cn)
    plan = env.registry.resume_info(unit)
    if plan.next_step == "nothing":
        reporter.skip("done", f"{unit.cn} is already provisioned; nothing to resume.")
        return _outcome(UnitRun(env, reporter, options or ProvisionOptions(), env.settings.product(unit.model),
                                unit=unit, resumed=True))
    if plan.next_step == "reprovision":
        raise UnitRefused(f"Unit {unit.cn} is {unit.state.value.replace('_', ' ')}; there is nothing to resume.",
                          f"To provision it again, re-provision it: `certbench unit reprovision {unit.cn}`.")
    run = UnitRun(env, reporter, options or ProvisionOptions(), env.settings.product(unit.model), unit=unit,
                  resumed=True)
    try:
        steps.connect(run, port)
        steps.check_identity(run, unit.serial, unit.model)
        return advance(run)
    finally:
        _close(run)


def _claim_existing(run: UnitRun, unit: UnitRecord) -> UnitRecord:
    """A scan of a unit the registry already has: resume it when this bench left it
    unfinished; anything else is refused (and audited) with the way forward."""
    where = f"{unit.last_operator} on {unit.last_workstation}"
    if unit.state in (*IN_PROGRESS, S.FAILED):
        if unit.last_workstation == run.actor.workstation:
            run.reporter.emit("reserve", "skipped", f"{unit.cn} is already reserved here ({unit.state.value}); resuming it.",
                              unit_id=unit.id, state=unit.state.value)
            return unit
        message = (f"Unit {unit.model} {unit.serial} ({unit.cn}) is being provisioned on another bench "
                   f"({unit.state.value}, last worked on by {where}).")
        hint = "Finish it on that bench, or resume it here with `certbench unit resume " + str(unit.cn) + " --port PORT`."
    elif unit.state == S.DONE:
        message = f"Unit {unit.model} {unit.serial} is already provisioned as {unit.cn} (by {where})."
        hint = f"To give it a new identity (board swap, renewal), re-provision it: `certbench unit reprovision {unit.cn}`."
    else:
        message = f"Unit {unit.model} {unit.serial} ({unit.cn}) is {unit.state.value.replace('_', ' ')}."
        hint = f"To provision it again, re-provision it: `certbench unit reprovision {unit.cn}`."
    run.registry.audit("unit.cn_reserved", actor=run.actor, subject=unit.cn, outcome="refused", error=message,
                       unit=unit.id, details={"state": unit.state.value})
    raise UnitRefused(message, hint)


def advance(run: UnitRun, *, central_checked: bool = False) -> UnitOutcome:
    """Drive the unit from its recorded state to `done`. Any failure leaves it `failed` (the
    registry remembers the state) and is raised; a process kill leaves it where it was."""
    from certbench.core.workflows import unit_recovery

    assert run.unit is not None
    registry = run.registry
    if run.unit.state == S.FAILED:
        run.unit = registry.retry(run.unit, actor=run.actor)
        run.resumed = True
    while run.unit.state != S.DONE:
        state = run.unit.state
        try:
            if state == S.CN_RESERVED:
                steps.check_intermediate_verified(run)
                if not central_checked:
                    steps.check_central_device(run, run.cn, run.unit.generation)
                    central_checked = True
                steps.make_key(run)
            elif state == S.KEY_READY:
                steps.order(run)
            elif state == S.CERT_ORDERED:
                _check_key_still_there(run)
                steps.collect(run)
            elif state == S.CERT_ISSUED:
                steps.validate(run)
                steps.install(run)
            elif state == S.INSTALLED:
                steps.read_back(run)
                steps.prove_possession(run)
            elif state == S.VERIFIED:
                steps.check_registration(run)
            elif state == S.REGISTERED:
                run.unit = registry.transition(run.unit, S.DONE, actor=run.actor)
            else:
                raise UnitRefused(f"Unit {run.unit.cn} is {state.value}; the workflow cannot continue it.",
                                  f"Re-provision it: `certbench unit reprovision {run.unit.cn}`.")
        except KeyLost as lost:
            if not run.options.replace_lost_key:
                _fail(run, lost)
                raise
            unit_recovery.replace_lost_key(run, lost)
            central_checked = True  # a key replacement keeps the device name; nothing registered it
        except Exception as exc:
            _fail(run, exc)
            raise
    run.env.keys.discard(run.unit.id)
    return _outcome(run)


def _check_key_still_there(run: UnitRun) -> None:
    """cert_ordered with a workstation key that this process does not hold: the certificate
    on order can never be used (the key died with the process that made it)."""
    origin = run.key_origin or steps.recorded_key_origin(run)
    run.key_origin = origin
    if origin == steps.KEY_FROM_WORKSTATION and steps.workstation_key(run) is None:
        cn = run.cn
        raise KeyLost(
            f"Unit {cn}'s certificate was ordered for a key made on this workstation, and that key was lost when "
            "Certbench stopped (keys made on the workstation are never written to disk).",
            f"Resume with `certbench unit resume {cn} --port PORT --replace-lost-key`: the ordered certificate is collected and "
            "revoked, and a new key and certificate are made (all audited).",
        )


def _fail(run: UnitRun, exc: BaseException) -> None:
    if run.unit is None:
        return
    text = exc.message if isinstance(exc, CertbenchError) else f"{type(exc).__name__}: {exc}"
    try:
        run.unit = run.registry.fail(run.unit.id, text[:4000], actor=run.actor, error_type=type(exc).__name__)
    except Exception:  # noqa: BLE001 - the registry itself may be the failure; the first error is what counts
        pass


def _close(run: UnitRun) -> None:
    if run.instrument is not None:
        try:
            run.instrument.close()
        except Exception:  # noqa: BLE001 - the port may already be gone with its cable
            pass


def _outcome(run: UnitRun) -> UnitOutcome:
    unit = run.unit
    assert unit is not None
    cert = run.registry.current_certificate(unit)
    return UnitOutcome(
        cn=unit.cn or "", serial=unit.serial, model=unit.model, state=unit.state.value, generation=unit.generation,
        key_origin=run.key_origin or steps.recorded_key_origin(run), order_id=cert.order_id if cert else None,
        certificate_sha256=cert.sha256 if cert else None, resumed=run.resumed, registration=run.registration,
        notes=tuple(run.notes), events=tuple(run.reporter.events),
    )


__all__ = ["STEPS", "ProvisionOptions", "UnitOutcome", "advance", "provision_unit", "resume_unit"]
