"""The steps of provisioning one unit, each a small function over a `UnitRun` (the unit, its
instrument, the bench environment, progress and audit). The order in which they run, and
what happens when one fails, is in unit_provisioning.py; recovery paths in unit_recovery.py.

Every step emits progress events (`started` / `done` / `failed` / `skipped`; transfers also
emit `started` events carrying `bytes_done` / `bytes_total`) and leaves an audit event: the
registry's own event when the step moves the unit's state, otherwise `unit.<step>`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from certbench.core.bench import BenchEnv
from certbench.core.config import Product
from certbench.core.errors import CertbenchError, ConfigError
from certbench.core.instrument.canonical import canonical_certificates, key_hash, key_store_bytes, sha256
from certbench.core.instrument.client import Instrument
from certbench.core.instrument.errors import InstrumentRefused, VerificationFailed
from certbench.core.instrument.protocol import ALG_BY_NAME, Capability, HelloInfo, Result, Store
from certbench.core.pki.base import IssuedCertificate, OrderPending
from certbench.core.registry import UnitRecord, UnitState
from certbench.core.trust import azure_root_certificates
from certbench.core.workflows.progress import ProgressReporter
from certbench.core.workflows.unit_errors import (
    DeviceAlreadyInCentral,
    IdentityMismatch,
    InstallFailed,
    IntermediateNotVerified,
    KeyLost,
    RegistrationFailed,
)
from certbench.core.x509.chain import validate_client_chain
from certbench.core.x509.identity import make_identity
from certbench.core.x509.inspect import sha256_fingerprint
from certbench.core.x509.keys import PrivateKey

S = UnitState
KEY_FROM_DEVICE = "device"
KEY_FROM_WORKSTATION = "workstation"
TRANSFER_STEP = "stage"
# Transfers report at most this many intermediate progress events (plus the last one).
TRANSFER_EVENTS = 20


@dataclass(frozen=True)
class ProvisionOptions:
    """Per-run choices. None: from Settings."""

    check_registration: bool | None = None
    # After a crash lost a workstation-made key whose certificate was already ordered:
    # revoke that certificate and continue under a new generation (audited). Never automatic.
    replace_lost_key: bool = False
    collect_poll_interval: float = 1.0
    collect_poll_max_interval: float = 10.0
    collect_limit_seconds: float | None = None  # None: [sectigo] poll_limit_seconds
    registration_timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep


@dataclass
class UnitRun:
    """One workflow run for one unit on one instrument."""

    env: BenchEnv
    reporter: ProgressReporter
    options: ProvisionOptions
    product: Product
    instrument: Instrument | None = None
    info: HelloInfo | None = None
    unit: UnitRecord | None = None
    issued: IssuedCertificate | None = None
    key_origin: str | None = None
    csr: x509.CertificateSigningRequest | None = None
    intermediate_checked: bool = False
    resumed: bool = False
    registration: str | None = None
    notes: list[str] = field(default_factory=list)
    # Checks passed before the unit existed, audited once it is reserved.
    pending_audit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def registry(self):
        return self.env.registry

    @property
    def actor(self):
        return self.env.actor

    @property
    def cn(self) -> str:
        assert self.unit is not None and self.unit.cn
        return self.unit.cn

    def audit(self, event: str, outcome: str = "ok", *, error: str | None = None, subject: str | None = None,
              **details: Any) -> None:
        self.registry.audit(event, actor=self.actor, subject=subject or (self.unit.cn if self.unit else None),
                            outcome=outcome, error=error, details=details, unit=self.unit.id if self.unit else None)

    def audit_ok(self, event: str, **details: Any) -> None:
        """An `ok` step event now, or, before the unit is reserved, right after reservation."""
        if self.unit is None:
            self.pending_audit.append((event, details))
        else:
            self.audit(event, **details)

    def flush_audit(self) -> None:
        pending, self.pending_audit = self.pending_audit, []
        for event, details in pending:
            self.audit(event, **details)

    def refresh(self) -> UnitRecord:
        assert self.unit is not None
        self.unit = self.registry.get_unit(self.unit.id)
        return self.unit


def same_serial(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def same_model(a: str, b: str) -> bool:
    # Firmware prints "MX-200", the catalogue says "mx200": the same product.
    def norm(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    return norm(a) == norm(b)


# -- instrument --------------------------------------------------------------------------------


def connect(run: UnitRun, port: str) -> HelloInfo:
    with run.reporter.step("connect", f"Connecting to the instrument on {port}.", port=port) as out:
        instrument = run.env.open_instrument(port)
        run.instrument = instrument
        info = instrument.hello()
        run.info = info
        out.update(model=info.model, serial=info.serial, firmware=info.firmware,
                   capabilities=[c.name for c in Capability if c and info.capabilities & c],
                   message=f"Instrument {info.model} {info.serial} (firmware {info.firmware}) answered on {port}.")
    return info


def check_identity(run: UnitRun, scanned_serial: str, scanned_model: str) -> None:
    """The instrument must be the unit whose label was scanned: same serial, same model."""
    info = run.info
    assert info is not None
    with run.reporter.step("identify", "Checking the instrument is the scanned unit.") as out:
        serial_ok = same_serial(info.serial, scanned_serial)
        model_ok = same_model(info.model, scanned_model)
        if not (serial_ok and model_ok):
            differs = ("serial number and model differ" if not (serial_ok or model_ok)
                       else "serial number differs" if not serial_ok else "model differs")
            message = (f"The instrument on {run.instrument.description if run.instrument else 'the port'} is not the "
                       f"scanned unit: its {differs}. Scanned: model {scanned_model}, serial {scanned_serial}. "
                       f"Instrument reports: model {info.model}, serial {info.serial}.")
            error = IdentityMismatch(
                message,
                "Connect the instrument whose label was scanned, or scan the label of the instrument that is "
                "connected. Nothing was reserved or ordered.",
                scanned=(scanned_model, scanned_serial), reported=(info.model, info.serial),
            )
            run.audit("unit.instrument_checked", "refused", error=message, subject=f"{scanned_model}/{scanned_serial}",
                      scanned={"model": scanned_model, "serial": scanned_serial},
                      reported={"model": info.model, "serial": info.serial, "firmware": info.firmware})
            raise error
        run.audit_ok("unit.instrument_checked", model=info.model, serial=info.serial, firmware=info.firmware)
        out.update(message=f"The instrument reports serial {info.serial}, model {info.model}: it matches the scan.")


# -- IoT Central -------------------------------------------------------------------------------


def check_intermediate_verified(run: UnitRun) -> None:
    """Refuse before anything is ordered when the product's intermediate is not verified in
    IoT Central: devices issued from it could never register."""
    if run.intermediate_checked:
        return
    from certbench.core.workflows.ca_verification import status

    name = run.product.intermediate
    with run.reporter.step("intermediate", f"Checking intermediate '{name}' is verified in IoT Central.",
                           intermediate=name) as out:
        central = run.env.require_central()
        config = run.env.settings.intermediate(name)
        (row,) = status(central, [config], lambda n: run.env.issuer.intermediate(n).certificate)
        if not row.verified or row.problem:
            why = row.problem or {
                "uploaded": "it is uploaded but its proof of possession was not completed",
                "not-uploaded": "it is not uploaded to any enrollment group",
                "other-certificate": "its configured entry holds another certificate",
                "unknown": "its certificate could not be read",
            }.get(row.state, row.state)
            message = (f"Intermediate CA '{name}' of product {run.product.model} is not verified in IoT Central "
                       f"({why}); a unit issued from it could not register.")
            run.audit("unit.intermediate_checked", "refused", error=message,
                      subject=run.unit.cn if run.unit else None, intermediate=name, state=row.state)
            raise IntermediateNotVerified(
                message,
                f"Verify it first: `certbench ca verify {name}` (or Administration > CA verification in the "
                "application), then scan the unit again. Nothing was ordered.",
            )
        run.intermediate_checked = True
        run.audit_ok("unit.intermediate_checked", intermediate=name, group=row.found_group, entry=row.found_entry,
                     thumbprint=row.thumbprint)
        out.update(group=row.found_group, entry=row.found_entry, thumbprint=row.thumbprint,
                   message=f"'{name}' is verified in {row.found_group}/{row.found_entry}.")


def check_central_device(run: UnitRun, cn: str, generation: int) -> None:
    """The device id must be free in IoT Central; on a re-provision (generation > 1) it may
    exist but must not be provisioned (the re-provision command resets it)."""
    with run.reporter.step("central", f"Checking IoT Central has no device '{cn}'.", cn=cn) as out:
        device = run.env.require_central().find_device(cn)
        if device is None:
            out.update(found=False, message=f"No device '{cn}' in IoT Central: the name is free.")
        elif generation > 1 and not device.provisioned:
            out.update(found=True, provisioned=False,
                       message=f"Device '{cn}' exists in IoT Central, not provisioned (re-provision).")
        else:
            state = "provisioned" if device.provisioned else "not provisioned"
            message = f"IoT Central already has a device '{cn}' ({state}, {'enabled' if device.enabled else 'disabled'})."
            hint = ("Two units must never share a device name. If this is the same unit being renewed or given a new "
                    f"board, re-provision it (`certbench unit reprovision {cn}`); otherwise find out who created the "
                    "device in IoT Central before going on. Nothing was ordered.")
            if run.unit is not None:
                run.audit("unit.central_checked", "refused", error=message, provisioned=device.provisioned)
            else:
                run.registry.audit("unit.central_checked", actor=run.actor, subject=cn, outcome="refused",
                                   error=message, details={"provisioned": device.provisioned})
            raise DeviceAlreadyInCentral(message, hint)
    run.audit_ok("unit.central_checked", found=device is not None,
                 provisioned=bool(device is not None and device.provisioned))


# -- key ---------------------------------------------------------------------------------------


def choose_key_origin(run: UnitRun) -> str:
    info = run.info
    assert info is not None
    algorithm = run.product.key_algorithm
    alg = ALG_BY_NAME.get(algorithm)
    can_keygen = bool(info.capabilities & Capability.KEYGEN) and alg is not None and int(alg) in info.algorithms
    if run.product.key_source == KEY_FROM_DEVICE and can_keygen:
        return KEY_FROM_DEVICE
    if not info.capabilities & Capability.KEY_IMPORT:
        wanted = "cannot generate a " + algorithm + " key" if run.product.key_source == KEY_FROM_DEVICE else (
            "must make its own key")
        raise ConfigError(
            f"Instrument {info.model} {info.serial} (firmware {info.firmware}) neither accepts a key from the "
            f"workstation nor can make the {algorithm} key product {run.product.model} asks for ({wanted}).",
            f"Check product {run.product.model}'s key_algorithm and key_source in Settings against the instrument "
            "(certbench instrument hello shows what it supports), or update its firmware.",
        )
    if run.product.key_source == KEY_FROM_DEVICE:
        run.notes.append(f"The instrument cannot generate a {algorithm} key on the device; "
                         "the key is made on the workstation instead.")
    return KEY_FROM_WORKSTATION


def make_key(run: UnitRun) -> None:
    """cn_reserved -> key_ready: a CSR for the unit's CN, from a key on the instrument or one
    made on the workstation (kept in memory only)."""
    unit = run.unit
    assert unit is not None and run.instrument is not None
    origin = choose_key_origin(run)
    algorithm = run.product.key_algorithm
    where = "on the instrument" if origin == KEY_FROM_DEVICE else "on the workstation"
    with run.reporter.step("key", f"Making a {algorithm} key {where}.", key_origin=origin, algorithm=algorithm) as out:
        if origin == KEY_FROM_DEVICE:
            # REUSE: a key made for this unit earlier (answer lost, bench crashed before ordering)
            # is taken again; with none pending the instrument makes a new one.
            run.csr = run.instrument.keygen(algorithm, unit.cn or "", reuse=True)
        else:
            identity = make_identity(unit.cn or "", algorithm)
            run.env.keys.put(unit.id, unit.generation, identity.key)
            run.csr = identity.csr
        run.key_origin = origin
        run.unit = run.registry.transition(unit, S.KEY_READY, actor=run.actor, key_origin=origin, algorithm=algorithm,
                                           firmware=run.info.firmware if run.info else None)
        out.update(message=f"Key ready ({algorithm}, made {where}); certificate request read.")


def recorded_key_origin(run: UnitRun) -> str | None:
    """How the current generation's key was made, from the unit's audit trail."""
    unit = run.unit
    assert unit is not None
    for event in reversed(run.registry.unit_events(unit)):
        if event.event != "unit.key_ready" or event.outcome != "ok":
            continue
        details = json.loads(event.details or "{}")
        if details.get("generation") == unit.generation:
            return details.get("key_origin")
    return None


def workstation_key(run: UnitRun) -> PrivateKey | None:
    assert run.unit is not None
    return run.env.keys.get(run.unit.id, run.unit.generation)


def csr_for_order(run: UnitRun) -> x509.CertificateSigningRequest:
    """key_ready: the CSR to order with (read again from the instrument after a restart)."""
    if run.csr is not None:
        return run.csr
    unit = run.unit
    assert unit is not None and run.instrument is not None
    origin = run.key_origin or recorded_key_origin(run)
    if origin == KEY_FROM_DEVICE:
        with run.reporter.step("key", "Reading the certificate request of the key the instrument made earlier.",
                               key_origin=origin) as out:
            run.csr = run.instrument.keygen(run.product.key_algorithm, unit.cn or "", reuse=True)
            run.key_origin = origin
            out["message"] = "Certificate request read again (same pending key)."
        return run.csr
    key = workstation_key(run)
    if key is None:
        # Nothing was ordered for the lost key, so it is simply made again (registry recovery
        # edge key_ready -> cn_reserved).
        run.unit = run.registry.transition(unit, S.CN_RESERVED, actor=run.actor,
                                           reason="workstation key lost before ordering (bench restarted)")
        make_key(run)
        assert run.csr is not None
        return run.csr
    from certbench.core.x509.csr import build_csr

    run.key_origin = origin
    run.csr = build_csr(key, unit.cn or "")
    return run.csr


# -- certificate -------------------------------------------------------------------------------


def order(run: UnitRun) -> str:
    """key_ready -> cert_ordered. The order id is recorded before anything is collected."""
    unit = run.unit
    assert unit is not None
    check_intermediate_verified(run)
    csr = csr_for_order(run)
    unit = run.unit
    name = run.product.intermediate
    with run.reporter.step("order", f"Ordering a certificate from '{name}'.", intermediate=name) as out:
        order_id = run.env.issuer.order(name, csr, comment=f"Certbench unit {unit.cn} (generation {unit.generation})")
        run.registry.record_certificate_order(unit, name, order_id, actor=run.actor, issuer=run.env.issuer.kind)
        run.refresh()
        out.update(order_id=order_id, message=f"Order {order_id} placed with '{name}' and recorded.")
    return order_id


def collect(run: UnitRun) -> IssuedCertificate:
    """cert_ordered -> cert_issued: collect the recorded order, never place another. Waits
    (with progress) while the CA is still processing it."""
    unit = run.unit
    assert unit is not None
    cert = run.registry.current_certificate(unit)
    assert cert is not None and cert.status == "ordered", "cert_ordered without an open order"
    limit = run.options.collect_limit_seconds
    if limit is None:
        limit = run.env.settings.sectigo.poll_limit_seconds
    with run.reporter.step("collect", f"Collecting order {cert.order_id} from '{cert.intermediate}'.",
                           order_id=cert.order_id, intermediate=cert.intermediate) as out:
        started = time.monotonic()
        delay = run.options.collect_poll_interval
        polls = 0
        while True:
            try:
                issued = run.env.issuer.collect(cert.intermediate, cert.order_id, wait=False)
                break
            except OrderPending as pending:
                polls += 1
                waited = time.monotonic() - started
                if waited >= limit:
                    raise
                run.reporter.emit("collect", "started", f"Order {cert.order_id} is {pending.reason}; waiting.",
                                  order_id=cert.order_id, pending=pending.reason, waited_seconds=round(waited, 1))
                run.options.sleep(min(delay, max(0.0, limit - waited)))
                delay = min(delay * 2, run.options.collect_poll_max_interval)
        run.registry.record_certificate_issued(unit, issued.certificate, actor=run.actor, polls=polls)
        run.issued = issued
        run.refresh()
        out.update(sha256=sha256_fingerprint(issued.certificate), polls=polls,
                   message=f"Certificate collected (serial {issued.certificate.serial_number:x}).")
    return issued


def recollect(run: UnitRun) -> IssuedCertificate:
    """The issued certificate of a unit past cert_issued, from its order (the registry keeps
    the fingerprint; the issuer gives the certificate and chain again)."""
    if run.issued is not None:
        return run.issued
    unit = run.unit
    assert unit is not None
    cert = run.registry.current_certificate(unit)
    if cert is None or cert.sha256 is None:
        raise CertbenchError(f"Unit {unit.cn} has no issued certificate on record.",
                             "This should not happen: run `certbench audit verify` and report it.")
    with run.reporter.step("collect", f"Reading issued order {cert.order_id} again.", order_id=cert.order_id) as out:
        issued = run.env.issuer.collect(cert.intermediate, cert.order_id, wait=False)
        got = issued.certificate.fingerprint(hashes.SHA256()).hex()
        if got != cert.sha256:
            raise CertbenchError(
                f"Order {cert.order_id} now returns a different certificate than the one recorded for {unit.cn}.",
                "Do not install it; tell the PKI administrator and keep the unit aside.",
            )
        run.issued = issued
        out["message"] = "Issued certificate read again; it is the one on record."
    return issued


def trust_store(run: UnitRun) -> list[x509.Certificate]:
    info = run.env.issuer.intermediate(run.product.intermediate)
    return [info.certificate, *azure_root_certificates()]


def validate(run: UnitRun) -> None:
    issued = recollect(run)
    info = run.env.issuer.intermediate(issued.intermediate)
    anchors = [info.chain_above[-1]] if info.chain_above else [info.certificate]
    with run.reporter.step("validate", "Checking the certificate chain for client authentication.") as out:
        report = validate_client_chain(issued.certificate, [*issued.chain[1:], info.certificate, *info.chain_above[:-1]],
                                       anchors)
        out.update(path=[c.subject.rfc4514_string() for c in report.path], warnings=list(report.warnings),
                   message="The chain is valid for client authentication.")
    run.audit("unit.chain_validated", path_length=len(report.path), warnings=list(report.warnings))


# -- instrument install ------------------------------------------------------------------------


def _stores(run: UnitRun, key: PrivateKey | None) -> tuple[dict[int, bytes], dict[int, bytes]]:
    issued = run.issued
    assert issued is not None
    data = {int(Store.TRUST): canonical_certificates(trust_store(run)),
            int(Store.CHAIN): canonical_certificates(list(issued.chain))}
    expected = {int(Store.TRUST): sha256(data[int(Store.TRUST)]), int(Store.CHAIN): sha256(data[int(Store.CHAIN)]),
                int(Store.KEY): key_hash(issued.certificate.public_key())}
    if key is not None:
        data[int(Store.KEY)] = key_store_bytes(key)
    return data, expected


def install(run: UnitRun) -> None:
    """cert_issued -> installed: stage trust store, chain (and a workstation key), COMMIT.
    Already committed (an answer lost to a pulled cable)? Then nothing is written again."""
    unit = run.unit
    inst = run.instrument
    assert unit is not None and inst is not None
    recollect(run)  # sets run.issued, which _stores reads
    _, expected = _stores(run, None)
    live = inst.hashes()
    if all(live.get(s) == h for s, h in expected.items()):
        run.reporter.skip("stage", "The instrument already holds these credentials (committed before the interruption).")
        run.reporter.skip("commit", "Already committed.")
        run.unit = run.registry.mark_installed(unit, actor=run.actor, already_committed=True)
        return
    origin = run.key_origin or recorded_key_origin(run)
    key = None
    if origin == KEY_FROM_WORKSTATION:
        key = workstation_key(run)
        if key is None:
            raise KeyLost(
                f"The workstation-made key of unit {unit.cn} was lost (the bench restarted before the instrument "
                "stored it), so its certificate can never be used.",
                f"Resume with `certbench unit resume {unit.cn} --port PORT --replace-lost-key`: the certificate is revoked and a "
                "new key and certificate are made (audited).",
            )
    else:
        pending = inst.hashes(staged=True).get(int(Store.KEY))
        if expected[int(Store.KEY)] not in (pending, live.get(int(Store.KEY))):
            raise KeyLost(
                f"Instrument {unit.serial} no longer holds the key its certificate was issued for (it was wiped, "
                "replaced, or made a new key).",
                f"Resume with `certbench unit resume {unit.cn} --port PORT --replace-lost-key`: the certificate is revoked and a "
                "new key and certificate are made (audited).",
            )
    stores, expected = _stores(run, key)
    total = sum(len(d) for d in stores.values())
    with run.reporter.step("stage", f"Writing trust store, certificate chain{' and key' if key else ''} "
                                    f"({total} bytes) to the instrument.",
                           stores=[Store(s).name.lower() for s in stores], bytes_total=total) as out:
        inst.write_stores(stores, _transfer_progress(run, total))
        staged = inst.hashes(staged=True)
        for store in (int(Store.TRUST), int(Store.CHAIN)):
            if staged.get(store) != expected[store]:
                raise InstallFailed(f"The instrument's staged {Store(store).name.lower()} store does not hold what was sent.",
                                    "Retry; if it fails again, check the cable and the instrument.")
        out.update(bytes_done=total, message=f"{total} bytes staged and checked.")
    run.audit("unit.staged", bytes=total, stores=[Store(s).name.lower() for s in stores],
              sha256={Store(s).name.lower(): expected[s].hex() for s in (int(Store.TRUST), int(Store.CHAIN))})
    with run.reporter.step("commit", "Making the new credentials live (atomic commit).") as out:
        committed = _commit(inst)
        out.update(stores=[Store(s).name.lower() for s in committed], message="Committed.")
    run.unit = run.registry.mark_installed(unit, actor=run.actor, stores=[Store(s).name.lower() for s in committed])


def _commit(inst: Instrument) -> tuple[int, ...]:
    boot = inst.info.boot_id if inst.info else None
    try:
        return inst.commit()
    except InstrumentRefused as exc:
        if exc.result == Result.NOTHING_STAGED:
            return ()  # committed before a restart lost the answer; the read-back decides
        if inst.info is not None and inst.info.boot_id != boot:
            raise InstallFailed("The instrument restarted while committing; nothing was half-written.",
                                "Retry: the workflow stages again and commits.") from None
        raise


def _transfer_progress(run: UnitRun, total: int):
    step = max(1, total // TRANSFER_EVENTS)
    last = [-step]

    def report(done: int, whole: int) -> None:
        if done - last[0] >= step or done >= whole:
            last[0] = done
            run.reporter.emit(TRANSFER_STEP, "started", f"Written {done} of {whole} bytes.",
                              bytes_done=done, bytes_total=whole, transfer=True)

    return report


def read_back(run: UnitRun) -> None:
    inst = run.instrument
    assert inst is not None
    recollect(run)
    _, expected = _stores(run, None)
    with run.reporter.step("readback", "Reading back what the instrument holds.") as out:
        live = inst.hashes()
        for store, digest in expected.items():
            if live.get(store) != digest:
                raise VerificationFailed(
                    f"After commit, the instrument's {Store(store).name.lower()} store does not hold what was sent.",
                    "Retry the unit; if it fails again the instrument's storage is faulty.",
                )
        out.update(message="Trust store, chain and key on the instrument match what was sent.")
    run.audit("unit.hashes_checked", sha256={Store(s).name.lower(): h.hex() for s, h in expected.items()})


def prove_possession(run: UnitRun) -> None:
    """installed -> verified: the instrument signs a fresh challenge, checked with the leaf."""
    inst = run.instrument
    unit = run.unit
    assert inst is not None and unit is not None
    issued = recollect(run)
    with run.reporter.step("possession", "Asking the instrument to sign a challenge with its new key.") as out:
        inst.verify_possession(issued.certificate)
        out["message"] = "The instrument proved it holds the certificate's private key."
    run.unit = run.registry.transition(unit, S.VERIFIED, actor=run.actor, proof="signed-challenge",
                                       nonce_bytes=32)


# -- registration ------------------------------------------------------------------------------


def check_registration(run: UnitRun) -> None:
    """verified -> registered -> done (or verified -> done when not checked)."""
    unit = run.unit
    assert unit is not None
    settings = run.env.settings
    wanted = run.options.check_registration
    if wanted is None:
        wanted = settings.bench.check_registration
    reason = None
    if not wanted:
        reason = "the registration check is switched off"
    elif not settings.dps.id_scope:
        reason = "no DPS ID scope is configured ([dps] id_scope)"
    inst = run.instrument
    can_self = bool(inst is not None and inst.info is not None and inst.info.capabilities & Capability.REGISTER)
    key = workstation_key(run)
    if reason is None and not can_self and key is None:
        reason = "the instrument cannot register itself and its key never left it"
    if reason is not None:
        run.reporter.skip("registration", f"Registration not checked: {reason}.")
        run.registration = f"not checked: {reason}"
        run.unit = run.registry.transition(unit, S.DONE, actor=run.actor, registration="not checked", reason=reason)
        return
    with run.reporter.step("registration", "Checking the unit can register through DPS.",
                           by="instrument" if can_self else "workstation") as out:
        if can_self:
            assert inst is not None
            host = settings.dps.host
            answer = inst.register(settings.dps.id_scope, "" if host == "global.azure-devices-provisioning.net" else host)
            if answer.status != 0:
                raise RegistrationFailed(
                    f"The instrument could not register through DPS (status {answer.status}: {answer.message or 'no detail'}).",
                    "Check that the product's intermediate is verified in an enabled enrollment group and that the "
                    "instrument has network access; then resume the unit.",
                )
            hub, device_id = answer.assigned_hub, answer.device_id
            if run.env.central is not None:  # DPS said assigned; the application must show it too
                from certbench.core.dps.instrument import DeviceNotConfirmed, confirm_in_central

                try:
                    confirm_in_central(run.env.central, device_id)
                except DeviceNotConfirmed as exc:
                    raise RegistrationFailed(exc.message, exc.hint) from None
                out.update(central="provisioned")
        else:
            try:
                from certbench.core.dps import register_with_dps
            except ImportError as exc:  # the DPS module is optional in some builds
                raise RegistrationFailed(f"The DPS registration check is not available ({exc}).",
                                         "Install Certbench with DPS support or switch the check off.") from None
            issued = recollect(run)
            server_ca = None
            if settings.dps.ca_file:
                with open(settings.dps.ca_file, encoding="utf-8") as handle:
                    server_ca = handle.read()
            outcome = register_with_dps(list(issued.chain), key, id_scope=settings.dps.id_scope, host=settings.dps.host,
                                        server_ca_pem=server_ca, timeout=run.options.registration_timeout)
            if not outcome.ok:
                raise RegistrationFailed(outcome.message, outcome.hint)
            hub, device_id = outcome.assigned_hub, outcome.device_id
        run.registration = f"assigned to {hub}"
        out.update(assigned_hub=hub, device_id=device_id, message=f"Registered: assigned to {hub} as {device_id}.")
    run.unit = run.registry.transition(unit, S.REGISTERED, actor=run.actor, assigned_hub=hub, device_id=device_id)
    run.unit = run.registry.transition(run.unit, S.DONE, actor=run.actor)

