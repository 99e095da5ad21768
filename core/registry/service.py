"""The registry's operations: reserve units, move them through the state machine, record their
certificates, and append every step to the audit chain, each in one database transaction.

All writes go through `Registry`; every method that changes something takes an `Actor` and
writes at least one audit event in the same transaction as the change, so the trail and the
records can never disagree. Methods take a unit as a `UnitRecord`, its id or its CN. Passing
a `UnitRecord` also asserts that the unit has not moved since it was read (`StaleUnit`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from certbench.core.errors import InputError
from certbench.core.registry import audit as chain
from certbench.core.registry import db
from certbench.core.registry.errors import (
    AlreadyOrdered,
    InvalidTransition,
    RegistryError,
    ReservationConflict,
    StaleUnit,
    UnitNotFound,
)
from certbench.core.registry.models import LIVE_CERT_STATUSES, AuditEvent, AuditHead, Certificate, Unit
from certbench.core.registry.records import (
    Actor,
    AuditRecord,
    CertificateRecord,
    ResumePlan,
    UnitRecord,
)
from certbench.core.registry.states import (
    IN_PROGRESS,
    NEXT_STEP,
    UnitState,
    allowed_targets,
    find_transition,
)

UnitRef = UnitRecord | int | str
_UNITS = Unit.__table__
_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__
_S = UnitState
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_GTIN = re.compile(r"\d{8}|\d{12,14}")


def _now() -> datetime:
    return datetime.now(UTC)


def _text(label: str, value: str | None, *, limit: int = 64, required: bool = True) -> str | None:
    """Checked, stripped text. Long fields (limit > 256: errors, reasons) may span lines."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"The {label} is empty.", f"Scan or enter the {label} again.")
        return None
    if not isinstance(value, str):
        raise InputError(f"The {label} must be text, not {type(value).__name__}.")
    chain.check_text(value, label)  # first: the messages below quote the value
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"The {label} '{value[:40]}...' is longer than {limit} characters.",
                         f"Check the {label}; it cannot be this long.")
    checked = value.replace("\n", "").replace("\t", "").replace("\r", "") if limit > 256 else value
    if _CONTROL.search(checked):
        raise InputError(f"The {label} contains control characters.", f"Scan or type the {label} again.")
    return value


def _unit_record(unit: Unit) -> UnitRecord:
    return UnitRecord(
        id=unit.id, cn=unit.cn, serial=unit.serial, model=unit.model, gtin=unit.gtin,
        state=UnitState(unit.state),
        failed_from=UnitState(unit.failed_from) if unit.failed_from else None,
        last_error=unit.last_error, generation=unit.generation, firmware=unit.firmware,
        operator=unit.operator, workstation=unit.workstation,
        last_operator=unit.last_operator, last_workstation=unit.last_workstation,
        created_at=chain.utc(unit.created_at), updated_at=chain.utc(unit.updated_at),
    )


def _opt_utc(value: datetime | None) -> datetime | None:
    return chain.utc(value) if value is not None else None


def _cert_record(cert: Certificate) -> CertificateRecord:
    return CertificateRecord(
        id=cert.id, unit_id=cert.unit_id, generation=cert.generation, status=cert.status,
        intermediate=cert.intermediate, issuer_dn=cert.issuer_dn, order_id=cert.order_id,
        serial_number=cert.serial_number, sha256=cert.sha256, sha1=cert.sha1,
        not_before=_opt_utc(cert.not_before), not_after=_opt_utc(cert.not_after),
        ordered_at=chain.utc(cert.ordered_at), issued_at=_opt_utc(cert.issued_at),
        installed_at=_opt_utc(cert.installed_at), ended_at=_opt_utc(cert.ended_at),
        end_reason=cert.end_reason,
    )


def _event_fields(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq, "occurred_at": chain.utc(row.occurred_at), "event": row.event,
        "actor": row.actor, "workstation": row.workstation, "subject": row.subject,
        "unit_id": row.unit_id, "outcome": row.outcome, "error": row.error,
        "details": row.details, "prev_hash": row.prev_hash, "hash": row.hash,
    }


def _subject(unit: Unit) -> str:
    return unit.cn or f"{unit.model}/{unit.serial}"


class Registry:
    """One registry database (SQLite file or PostgreSQL). Thread-safe; open once per process
    with `open_registry()` and share it."""

    def __init__(self, engine: Engine, url: URL) -> None:
        self._engine = engine
        self._writer = db.writer(engine)
        self._url = url

    # -- plumbing ------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def backend(self) -> str:
        return self._engine.dialect.name

    @property
    def location(self) -> str:
        """Where the registry is, without any password."""
        return db.describe(self._url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError:
            raise
        except DBAPIError as exc:
            raise db.unavailable(self._url, exc) from None

    @contextmanager
    def _read(self, *, snapshot: bool = False) -> Iterator[Session]:
        engine = self._engine
        if snapshot and self.backend == "postgresql":
            # One snapshot for the whole walk: events appended meanwhile by other benches
            # must not look like a head mismatch.
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                yield session
        except DBAPIError as exc:
            raise db.unavailable(self._url, exc) from None

    def _event(
        self,
        event: str,
        actor: Actor,
        *,
        subject: str | None = None,
        unit_id: int | None = None,
        outcome: str = "ok",
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An audit event's fields, checked (nothing secret, known outcome), not yet chained."""
        if outcome not in chain.OUTCOMES:
            raise InputError(f"Unknown audit outcome '{outcome}'.", f"Use one of: {', '.join(chain.OUTCOMES)}.")
        _text("event name", event)
        if error is not None:
            chain.check_text(error, "error")
        return {
            "occurred_at": _now(), "event": event,
            "actor": actor.operator, "workstation": actor.workstation,
            "subject": _text("subject", subject, limit=256, required=False),
            "unit_id": unit_id, "outcome": outcome, "error": error,
            "details": chain.details_text(details),
        }

    def _append(self, session: Session, *events: dict[str, Any]) -> list[dict[str, Any]]:
        """Chain `events` onto the head and insert them, in the caller's transaction."""
        # Pending record changes go to the database first: a constraint they break stops the
        # transaction before the head is locked.
        session.flush()
        # The head row lock orders appends from every bench into one chain; it is taken last
        # in each transaction so it is held only for the final inserts and the commit.
        head = session.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
        ).one()
        seq, prev = head.seq, head.hash
        for fields in events:
            seq += 1
            fields["seq"], fields["prev_hash"] = seq, prev
            fields["hash"] = prev = chain.event_hash(fields)
        session.execute(insert(_EVENTS), list(events))
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev))
        return list(events)

    def _locate(self, session: Session, ref: UnitRef, *, lock: bool) -> Unit:
        query = select(Unit)
        if isinstance(ref, UnitRecord):
            query = query.where(Unit.id == ref.id)
        elif isinstance(ref, int) and not isinstance(ref, bool):
            query = query.where(Unit.id == ref)
        elif isinstance(ref, str) and ref.strip():
            query = query.where(Unit.cn == ref.strip())
        else:
            raise InputError("No unit was given.", "Give the unit's CN.")
        if lock:
            query = query.with_for_update()
        unit = session.execute(query).scalar_one_or_none()
        if unit is None:
            what = ref.cn or ref.id if isinstance(ref, UnitRecord) else ref
            raise UnitNotFound(f"No unit '{what}' in the registry at {self.location}.",
                               "Check the CN (certbench units list shows every unit).")
        if isinstance(ref, UnitRecord) and (ref.state != unit.state or ref.generation != unit.generation):
            raise StaleUnit(
                f"Unit {_subject(unit)} is now '{unit.state}' (changed by {unit.last_operator} on "
                f"{unit.last_workstation}), not '{ref.state}' as this bench last saw it.",
                "Another bench or window is working on this unit. Reload it and continue from its current state.",
            )
        return unit

    def _move(
        self,
        session: Session,
        unit: Unit,
        target: UnitState,
        actor: Actor,
        *,
        via: str | None,
        event: str | None = None,
        outcome: str = "ok",
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        source = UnitState(unit.state)
        edge = find_transition(source, target)
        if edge is None or (source == _S.FAILED and edge.kind == "recovery" and unit.failed_from != target):
            allowed = ", ".join(allowed_targets(source)) or "none"
            if source == _S.FAILED:
                allowed = f"{unit.failed_from} (retry), rolled_back, revoked"
            raise InvalidTransition(
                f"Unit {_subject(unit)} cannot go from '{source}' to '{target}'.",
                f"From '{source}' it can go to: {allowed}. Steps cannot be skipped or undone; "
                "use the recovery paths in docs/registry.md.",
            )
        if edge.via != via:
            raise InvalidTransition(
                f"Unit {_subject(unit)}: '{source}' -> '{target}' must be recorded with "
                f"registry.{edge.via}(), which also records what the step produced.",
                "This is a Certbench defect; report it with the step that was running.",
            )
        now = _now()
        unit.state = target.value
        unit.updated_at = now
        unit.last_operator, unit.last_workstation = actor.operator, actor.workstation
        self._append(session, self._event(
            event or f"unit.{target.value}", actor, subject=_subject(unit), unit_id=unit.id,
            outcome=outcome, error=error,
            details={"from": source.value, "to": target.value, "generation": unit.generation, **(details or {})},
        ))

    def _live_certificate(self, session: Session, unit: Unit) -> Certificate | None:
        return session.execute(
            select(Certificate).where(Certificate.unit_id == unit.id, Certificate.status.in_(LIVE_CERT_STATUSES))
        ).scalar_one_or_none()

    # -- reading -------------------------------------------------------------------------

    def get_unit(self, ref: UnitRef) -> UnitRecord:
        with self._read() as session:
            unit = self._locate(session, ref.id if isinstance(ref, UnitRecord) else ref, lock=False)
            return _unit_record(unit)

    def find_unit(self, cn: str | None = None, *, serial: str | None = None, model: str | None = None) -> UnitRecord | None:
        """The unit with this CN, or with this serial (and model, when given); None if none."""
        query = select(Unit)
        if cn:
            query = query.where(Unit.cn == cn.strip())
        elif serial:
            query = query.where(Unit.serial == serial.strip())
            if model:
                query = query.where(Unit.model == model.strip())
        else:
            raise InputError("Give a CN or a serial number to look for.")
        with self._read() as session:
            units = session.execute(query.limit(2)).scalars().all()
        if len(units) > 1:
            raise InputError(f"Serial '{serial}' belongs to units of several models.", "Give the model too.")
        return _unit_record(units[0]) if units else None

    def list_units(self, state: UnitState | str | None = None, *, limit: int = 100, offset: int = 0) -> list[UnitRecord]:
        """Units, most recently changed first (indexed: instant with millions of units)."""
        query = select(Unit).order_by(Unit.updated_at.desc(), Unit.id.desc()).limit(limit).offset(offset)
        if state:
            query = query.where(Unit.state == UnitState(state).value)
        with self._read() as session:
            return [_unit_record(unit) for unit in session.execute(query).scalars()]

    def count_units(self, state: UnitState | str | None = None) -> int:
        query = select(func.count()).select_from(Unit)
        if state:
            query = query.where(Unit.state == UnitState(state).value)
        with self._read() as session:
            return session.execute(query).scalar_one()

    def unfinished_units(self, workstation: str | None = None) -> list[UnitRecord]:
        """Units a bench should offer to resume (in progress or failed), oldest first."""
        query = select(Unit).where(Unit.state.in_([s.value for s in (*IN_PROGRESS, _S.FAILED)]))
        if workstation:
            query = query.where(Unit.last_workstation == workstation)
        with self._read() as session:
            return [_unit_record(u) for u in session.execute(query.order_by(Unit.updated_at)).scalars()]

    def certificates(self, ref: UnitRef) -> list[CertificateRecord]:
        """Every certificate the unit has had, oldest first."""
        with self._read() as session:
            unit = self._locate(session, ref.id if isinstance(ref, UnitRecord) else ref, lock=False)
            rows = session.execute(
                select(Certificate).where(Certificate.unit_id == unit.id).order_by(Certificate.id)
            ).scalars()
            return [_cert_record(cert) for cert in rows]

    def current_certificate(self, ref: UnitRef) -> CertificateRecord | None:
        """The unit's ordered, issued or installed certificate, if it has one."""
        with self._read() as session:
            unit = self._locate(session, ref.id if isinstance(ref, UnitRecord) else ref, lock=False)
            cert = self._live_certificate(session, unit)
            return _cert_record(cert) if cert else None

    def unit_events(self, ref: UnitRef) -> list[AuditRecord]:
        with self._read() as session:
            unit = self._locate(session, ref.id if isinstance(ref, UnitRecord) else ref, lock=False)
            rows = session.execute(
                select(AuditEvent).where(AuditEvent.unit_id == unit.id).order_by(AuditEvent.seq)
            ).scalars()
            return [AuditRecord(**_event_fields(row)) for row in rows]

    def resume_info(self, ref: UnitRef) -> ResumePlan:
        """Where the unit stands and what to do next; for `cert_ordered`, the order to collect."""
        with self._read() as session:
            unit = self._locate(session, ref.id if isinstance(ref, UnitRecord) else ref, lock=False)
            cert = self._live_certificate(session, unit)
            record = _unit_record(unit)
        cert_record = _cert_record(cert) if cert else None
        state = record.state
        if state == _S.FAILED:
            origin = record.failed_from or _S.SCANNED
            step = NEXT_STEP[origin]
            message = (f"Failed while '{origin}' ({record.last_error or 'no error recorded'}). "
                       f"Retry resumes with: {step.replace('_', ' ')}.")
            return ResumePlan(record, step, origin, cert_record, message)
        step = NEXT_STEP[state]
        if state == _S.CERT_ORDERED and cert_record:
            message = (f"Certificate order {cert_record.order_id} at {cert_record.intermediate} is placed: "
                       "collect it (never order again).")
        elif step == "nothing":
            message = "Provisioning is complete. Re-provision explicitly to give it a new certificate."
        elif step == "reprovision":
            message = f"The unit is {state.value.replace('_', ' ')}; only an explicit re-provision continues."
        else:
            message = f"Next: {step.replace('_', ' ')}."
        return ResumePlan(record, step, None, cert_record, message)

    # -- reserving -----------------------------------------------------------------------

    def record_scan(self, serial: str, model: str, gtin: str | None, *, actor: Actor,
                    firmware: str | None = None) -> UnitRecord:
        """A scanned unit, before its CN is known (state `scanned`)."""
        return self._create(serial, model, gtin, None, actor=actor, firmware=firmware)

    def reserve(self, serial: str, model: str, gtin: str | None, cn: str, *, actor: Actor,
                firmware: str | None = None) -> UnitRecord:
        """Scan and reserve in one step: a new unit in `cn_reserved` holding `cn`.

        Race-safe across benches: the database's unique constraints decide. The loser gets
        `ReservationConflict` naming who holds the CN (or serial), and the refusal is audited.
        """
        return self._create(serial, model, gtin, cn, actor=actor, firmware=firmware)

    def reserve_cn(self, unit: UnitRef, cn: str, *, actor: Actor) -> UnitRecord:
        """Reserve `cn` for a unit recorded with `record_scan`."""
        cn = _text("CN", cn)
        try:
            with self._write() as session:
                row = self._locate(session, unit, lock=True)
                row.cn = cn
                self._move(session, row, _S.CN_RESERVED, actor, via="reserve_cn", details={"cn": cn})
                return _unit_record(row)
        except IntegrityError:
            raise self._conflict(cn, None, None, None, actor) from None

    def _create(self, serial: str, model: str, gtin: str | None, cn: str | None, *,
                actor: Actor, firmware: str | None) -> UnitRecord:
        serial = _text("serial number", serial)
        model = _text("model", model)
        gtin = _text("GTIN", gtin, limit=14, required=False)
        if gtin is not None and not _GTIN.fullmatch(gtin):
            raise InputError(f"The GTIN '{gtin}' is not 8, 12, 13 or 14 digits.", "Scan the UDI label again.")
        cn = _text("CN", cn, required=False) if cn is not None else None
        firmware = _text("firmware version", firmware, required=False)
        now = _now()
        values = dict(
            cn=cn, serial=serial, model=model, gtin=gtin, firmware=firmware,
            state=(_S.CN_RESERVED if cn else _S.SCANNED).value, generation=1, failed_from=None, last_error=None,
            operator=actor.operator, workstation=actor.workstation,
            last_operator=actor.operator, last_workstation=actor.workstation,
            created_at=now, updated_at=now,
        )
        scan = {"serial": serial, "model": model, "gtin": gtin, "firmware": firmware}
        events = [self._event("unit.scanned", actor, subject=f"{model}/{serial}", details={"to": _S.SCANNED.value, **scan})]
        if cn:
            events.append(self._event("unit.cn_reserved", actor, subject=cn, details={
                "from": _S.SCANNED.value, "to": _S.CN_RESERVED.value, "generation": 1, "cn": cn}))
        try:
            with self._write() as session:
                # Core statements: this is the hot path of every provisioning (see bench/registry).
                unit_id = session.execute(insert(_UNITS).values(**values).returning(_UNITS.c.id)).scalar_one()
                for event in events:
                    event["unit_id"] = unit_id
                self._append(session, *events)
                return _unit_record(Unit(id=unit_id, **values))
        except IntegrityError:
            raise self._conflict(cn, serial, model, gtin, actor) from None

    def _conflict(self, cn: str | None, serial: str | None, model: str | None, gtin: str | None,
                  actor: Actor) -> ReservationConflict:
        holder = self.find_unit(cn) if cn else None
        conflict, value = "cn", cn or ""
        if holder is None and serial:
            holder = self.find_unit(serial=serial, model=model)
            conflict, value = "serial", f"{model}/{serial}"
        if holder is None:
            # Both constraints are on rows that are never deleted, so this means a schema
            # or data problem, not a race.
            return ReservationConflict(
                f"The registry refused to record {value or cn}, but no unit holds it.",
                "Run 'certbench audit verify' and tell the registry administrator.",
                conflict=conflict, value=value, holder=None,
            )
        what = f"CN '{cn}'" if conflict == "cn" else f"serial number {serial} of model {model}"
        message = (
            f"{what} is already held by unit #{holder.id} ({holder.state.value}), reserved by "
            f"{holder.operator} on {holder.workstation} at {chain.format_time(holder.created_at)}"
        )
        if (holder.last_operator, holder.last_workstation) != (holder.operator, holder.workstation):
            message += f", last worked on by {holder.last_operator} on {holder.last_workstation}"
        error = ReservationConflict(
            message + ".",
            "Two benches must never provision the same unit. If this unit is being provisioned "
            "elsewhere, leave it there; if its earlier run stopped, resume it; for a board swap or "
            "renewal, re-provision it explicitly (certbench units show shows its history).",
            conflict=conflict, value=value, holder=holder,
        )
        refusal = self._event(
            "unit.cn_reserved", actor, subject=cn or f"{model}/{serial}", unit_id=holder.id,
            outcome="refused", error=error.message,
            details={"serial": serial, "model": model, "gtin": gtin, "cn": cn, "conflict": conflict,
                     "held_by": {"operator": holder.operator, "workstation": holder.workstation}},
        )
        with self._write() as session:
            self._append(session, refusal)
        return error

    # -- the steps -----------------------------------------------------------------------

    def transition(self, unit: UnitRef, new_state: UnitState | str, *, actor: Actor,
                   firmware: str | None = None, **details: Any) -> UnitRecord:
        """A step that records nothing but the state (and `details` in the audit event):
        key ready, verified, registered, done, and the key-lost recovery."""
        target = UnitState(new_state)
        firmware = _text("firmware version", firmware, required=False)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            if firmware:
                row.firmware = firmware
                details = {**details, "firmware": firmware}
            self._move(session, row, target, actor, via=None, details=details)
            return _unit_record(row)

    def record_certificate_order(self, unit: UnitRef, intermediate: str, order_id: str, *,
                                 actor: Actor, **details: Any) -> CertificateRecord:
        """Record a placed order before collecting it: `key_ready` -> `cert_ordered`.

        Recording the same order again returns it (idempotent); a different order for a unit
        that already has one is refused (`AlreadyOrdered`): collect that one instead.
        """
        intermediate = _text("intermediate CA name", intermediate, limit=128)
        order_id = _text("order id", order_id, limit=128)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            live = self._live_certificate(session, row)
            if live is not None and live.status == "ordered":
                if (live.intermediate, live.order_id) == (intermediate, order_id):
                    return _cert_record(live)
                raise AlreadyOrdered(
                    f"Unit {_subject(row)} already has certificate order {live.order_id} at {live.intermediate}.",
                    "Collect that order; a unit's certificate is never ordered twice.",
                )
            cert = Certificate(
                unit_id=row.id, generation=row.generation, status="ordered", intermediate=intermediate,
                order_id=order_id, ordered_at=_now(),
            )
            session.add(cert)
            self._move(session, row, _S.CERT_ORDERED, actor, via="record_certificate_order",
                       details={"intermediate": intermediate, "order_id": order_id, **details})
            session.flush()
            return _cert_record(cert)

    def record_order_rejected(self, unit: UnitRef, reason: str, *, actor: Actor) -> UnitRecord:
        """The CA rejected or cancelled the order: back to `key_ready` to order again."""
        reason = _text("reason", reason, limit=1000)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            cert = self._live_certificate(session, row)
            order = None
            if cert is not None and cert.status == "ordered":
                cert.status, cert.ended_at, cert.end_reason = "rejected", _now(), reason
                order = cert.order_id
            self._move(session, row, _S.KEY_READY, actor, via="record_order_rejected",
                       outcome="failed", error=reason, details={"order_id": order})
            return _unit_record(row)

    def record_certificate_issued(self, unit: UnitRef, certificate: x509.Certificate, *,
                                  actor: Actor, **details: Any) -> CertificateRecord:
        """The collected certificate: `cert_ordered` -> `cert_issued`. Fingerprints, serial
        number, validity and issuer are taken from the certificate itself."""
        if not isinstance(certificate, x509.Certificate):
            raise InputError("The issued certificate must be an X.509 certificate object.")
        sha256 = certificate.fingerprint(hashes.SHA256()).hex()
        cns = [a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            cert = self._live_certificate(session, row)
            if cert is not None and cert.sha256 == sha256:
                return _cert_record(cert)  # already recorded (a retried step)
            if row.cn not in cns:
                raise InputError(
                    f"The certificate is for CN {', '.join(map(str, cns)) or '(none)'}, but unit #{row.id} is {row.cn}.",
                    "The CA returned a certificate for another unit; do not install it. Check the order id.",
                )
            if cert is None or cert.status != "ordered":
                raise InvalidTransition(
                    f"Unit {_subject(row)} has no open certificate order to record a certificate for.",
                    "Record the order first (record_certificate_order).",
                )
            cert.status = "issued"
            cert.sha256 = sha256
            cert.sha1 = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - thumbprint as Windows shows it
            cert.serial_number = format(certificate.serial_number, "x")
            cert.issuer_dn = certificate.issuer.rfc4514_string()
            cert.not_before = certificate.not_valid_before_utc
            cert.not_after = certificate.not_valid_after_utc
            cert.der = certificate.public_bytes(Encoding.DER)
            cert.issued_at = _now()
            self._move(
                session, row, _S.CERT_ISSUED, actor, via="record_certificate_issued",
                details={
                    "order_id": cert.order_id, "intermediate": cert.intermediate, "issuer": cert.issuer_dn,
                    "certificate_serial": cert.serial_number, "sha256": sha256, "sha1": cert.sha1,
                    "not_before": cert.not_before, "not_after": cert.not_after, **details,
                },
            )
            try:
                session.flush()
            except IntegrityError:
                raise RegistryError(
                    f"Certificate {sha256[:16]}... (serial {cert.serial_number}) is already recorded for another unit.",
                    "The CA returned a certificate that belongs to another unit; do not install it.",
                ) from None
            return _cert_record(cert)

    def mark_installed(self, unit: UnitRef, *, actor: Actor, **details: Any) -> UnitRecord:
        """The instrument committed the certificate: `cert_issued` -> `installed`."""
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            cert = self._live_certificate(session, row)
            if cert is not None and cert.status == "issued":
                cert.status, cert.installed_at = "installed", _now()
            self._move(session, row, _S.INSTALLED, actor, via="mark_installed",
                       details={"sha256": cert.sha256 if cert else None, **details})
            return _unit_record(row)

    def fail(self, unit: UnitRef, error: str, *, actor: Actor, **details: Any) -> UnitRecord:
        """A step failed: the unit waits in `failed` and remembers where it was."""
        error = _text("error", error, limit=4000)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            source = row.state
            self._move(session, row, _S.FAILED, actor, via="fail", outcome="failed", error=error, details=details)
            row.failed_from, row.last_error = source, error
            return _unit_record(row)

    def retry(self, unit: UnitRef, *, actor: Actor) -> UnitRecord:
        """A failed unit goes back to the state it failed in, to repeat the step that failed."""
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            if row.state != _S.FAILED:
                raise InvalidTransition(f"Unit {_subject(row)} is '{row.state}', not failed; there is nothing to retry.")
            target = UnitState(row.failed_from)
            self._move(session, row, target, actor, via="retry", event="unit.retried")
            row.failed_from, row.last_error = None, None
            return _unit_record(row)

    def roll_back(self, unit: UnitRef, reason: str, *, actor: Actor) -> UnitRecord:
        """Provisioning abandoned. An open order is written off; an issued certificate stays
        recorded (revoke it at the CA, then `mark_revoked`)."""
        reason = _text("reason", reason, limit=1000)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            cert = self._live_certificate(session, row)
            ended = None
            if cert is not None and cert.status == "ordered":
                cert.status, cert.ended_at, cert.end_reason = "superseded", _now(), f"rolled back: {reason}"
                ended = cert.order_id
            self._move(session, row, _S.ROLLED_BACK, actor, via="roll_back",
                       details={"reason": reason, "abandoned_order": ended})
            return _unit_record(row)

    def mark_revoked(self, unit: UnitRef, reason: str, *, actor: Actor) -> UnitRecord:
        """The unit's certificate was revoked at the CA: the unit is `revoked`."""
        reason = _text("reason", reason, limit=1000)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            cert = self._live_certificate(session, row)
            if cert is None or cert.status not in ("issued", "installed"):
                raise InvalidTransition(
                    f"Unit {_subject(row)} has no issued certificate to revoke.",
                    "Only a unit with an issued or installed certificate can be revoked.",
                )
            cert.status, cert.ended_at, cert.end_reason = "revoked", _now(), reason
            self._move(session, row, _S.REVOKED, actor, via="mark_revoked",
                       details={"reason": reason, "sha256": cert.sha256, "certificate_serial": cert.serial_number})
            return _unit_record(row)

    def reprovision(self, unit: UnitRef, reason: str, *, actor: Actor) -> UnitRecord:
        """Start again for a finished, rolled-back or revoked unit (board swap, renewal): the
        unit keeps its CN, its generation goes up by one, and its certificate is superseded."""
        reason = _text("reason", reason, limit=1000)
        with self._write() as session:
            row = self._locate(session, unit, lock=True)
            if row.cn is None:
                raise InvalidTransition(f"Unit {_subject(row)} never had a CN; reserve one instead.")
            cert = self._live_certificate(session, row)
            superseded = None
            if cert is not None:
                cert.status, cert.ended_at, cert.end_reason = "superseded", _now(), f"re-provisioned: {reason}"
                superseded = {"sha256": cert.sha256, "order_id": cert.order_id, "certificate_serial": cert.serial_number}
            old_generation = row.generation
            self._move(session, row, _S.CN_RESERVED, actor, via="reprovision", event="unit.reprovisioned",
                       details={"reason": reason, "superseded": superseded, "new_generation": old_generation + 1})
            row.generation = old_generation + 1
            row.failed_from, row.last_error = None, None
            return _unit_record(row)

    # -- the audit trail -----------------------------------------------------------------

    def audit(self, event: str, *, actor: Actor, subject: str | None = None, outcome: str = "ok",
              error: str | None = None, details: Mapping[str, Any] | None = None,
              unit: UnitRef | None = None) -> AuditRecord:
        """Record one step of a workflow that is not a unit state change (CA verification,
        settings changes, sign-in...). `event` is a dotted name such as 'ca.verified'."""
        with self._write() as session:
            unit_id = None
            if unit is not None:
                unit_id = self._locate(session, unit.id if isinstance(unit, UnitRecord) else unit, lock=False).id
            (fields,) = self._append(session, self._event(
                event, actor, subject=subject, unit_id=unit_id, outcome=outcome, error=error, details=details))
            return AuditRecord(**fields)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last event: note it outside the database to anchor the chain."""
        with self._read() as session:
            head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
            return head.seq, head.hash

    def events(self, *, since: datetime | None = None, unit: UnitRef | None = None,
               batch: int = 2000) -> Iterator[AuditRecord]:
        """Audit events in chain order, streamed (millions of rows use little memory)."""
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if since is not None:
            query = query.where(AuditEvent.occurred_at >= chain.utc(since))
        with self._read() as session:
            if unit is not None:
                query = query.where(AuditEvent.unit_id == self._locate(session, unit, lock=False).id)
            result = session.execute(query.execution_options(yield_per=batch)).scalars()
            for row in result:
                yield AuditRecord(**_event_fields(row))

    def verify(self, *, anchors: Mapping[int, str] | None = None) -> chain.ChainReport:
        """Walk the whole chain; the report names the first broken row, if any."""
        with self._read(snapshot=True) as session:
            head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
            rows = session.execute(
                select(AuditEvent.__table__).order_by(AuditEvent.seq).execution_options(yield_per=5000)
            )
            return chain.verify_chain(
                (_event_fields(row) for row in rows),
                (head.seq, head.hash) if head else (0, "(head row deleted)"),
                anchors=anchors,
            )


def open_registry(url: str | None = None, *, migrate: bool = True) -> Registry:
    """Open the registry at `url` (None: the SQLite file `certbench.db` in the data folder),
    creating or upgrading its schema unless `migrate` is False."""
    resolved = db.resolve_url(url)
    engine = db.create_registry_engine(resolved)
    try:
        if migrate:
            db.upgrade(engine, resolved)
    except BaseException:
        engine.dispose()
        raise
    return Registry(engine, resolved)

