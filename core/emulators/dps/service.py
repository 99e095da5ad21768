"""What the DPS emulator decides, independent of MQTT: who may register, the operations
and their answers, in the service's own JSON.

The rules (see docs/dps.md for the reasoning):
- the registration id obeys DPS's rules (letters, digits, `- . _ :`, ends with a letter,
  digit or `-`, at most 128 characters; at most 64 with X.509 since it is the CN);
- it equals the leaf's subject CN (compared case-insensitively, as DPS ids are);
- the leaf is within its validity period;
- the chain the device presented leads to a CA certificate that is verified in an X.509
  enrollment group, and the device presented it up to that certificate: either the verified
  certificate itself is in the handshake (an intermediate as the anchor) or an intermediate
  it issued is. A leaf alone is refused even if its issuer is verified ("the chain is
  missing the intermediate", the commonest 401002 in the field);
- a group that is disabled lets the device authenticate but the assignment ends with
  status "disabled" (the contract is silent here: a deliberate pick).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509

from certbench.core.dps.rules import registration_id_problem
from certbench.core.emulators.httpserver import FaultPlan
from certbench.core.x509.chain import MAX_PATH_LENGTH, ChainError, validate_client_chain, verify_signed_by
from certbench.core.x509.inspect import common_name, display_name
from certbench.core.x509.parse import to_der

API_VERSION = "2019-03-31"

# errorCode values. 401002 and 429001 are the codes DPS is known to send; the others follow
# its status*1000 pattern and are the emulator's own picks.
INVALID_CERTIFICATE = 401002
THROTTLED = 429001
BAD_REQUEST = 400000
NOT_FOUND = 404000
INTERNAL = 500000


class VerifiedCertificate(Protocol):
    group_id: str
    entry: str
    thumbprint: str
    certificate: x509.Certificate


class CentralState(Protocol):
    """The part of the IoT Central emulator's state DPS reads and writes."""

    id_scope: str

    def verified_ca_certificates(self, *, include_disabled: bool = False) -> Sequence[VerifiedCertificate]: ...

    def upsert_device(self, device_id: str, *, provisioned: bool = True, group_id: str | None = None) -> dict[str, Any]: ...


def utc_text(moment: dt.datetime | None = None) -> str:
    """DPS's timestamps: seven fractional digits and a Z."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass
class Answer:
    """A response: HTTP-like status, JSON body, optional retry-after seconds."""

    status: int
    body: dict[str, Any]
    retry_after: int | None = None
    drop: bool = False

    def payload(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


def error_answer(status: int, code: int, message: str, retry_after: int | None = None) -> Answer:
    body = {"errorCode": code, "trackingId": str(uuid.uuid4()), "message": message, "timestampUtc": utc_text()}
    return Answer(status, body, retry_after)


@dataclass
class Decision:
    """Outcome of authenticating a device: a group to assign through, or a refusal."""

    group_id: str | None = None
    group_enabled: bool = True
    refusal: Answer | None = None


@dataclass
class Operation:
    id: str
    registration_id: str
    group_id: str
    group_enabled: bool
    created: str
    polls: int = 0
    result: dict[str, Any] | None = None


@dataclass
class Registration:
    registration_id: str
    created: str
    group_id: str
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')


def _reaches(leaf: x509.Certificate, presented: list[x509.Certificate], anchors: list[x509.Certificate]) -> bool:
    """Whether leaf -> presented... links (name and signature) up to one of `anchors`."""
    anchor_ders = {to_der(a) for a in anchors}
    current, seen = leaf, {to_der(leaf)}
    for _ in range(MAX_PATH_LENGTH):
        if to_der(current) in anchor_ders:
            return True
        if any(a.subject == current.issuer and verify_signed_by(current, a) for a in anchors):
            return True
        parent = next((p for p in presented if p.subject == current.issuer and to_der(p) not in seen
                       and verify_signed_by(current, p)), None)
        if parent is None:
            return False
        seen.add(to_der(parent))
        current = parent
    return False


class DpsService:
    """Decisions and operations for one ID scope, backed by an IoT Central state."""

    def __init__(self, state: CentralState, *, polls_before_assigned: int = 0, retry_after: int = 1) -> None:
        self.state = state
        self.faults = FaultPlan()
        # How many status polls answer "assigning" before the assignment completes.
        self.polls_before_assigned = polls_before_assigned
        self.retry_after = retry_after
        self.assigned_hub = f"iotc-{uuid.uuid5(uuid.NAMESPACE_DNS, state.id_scope)}.azure-devices.net"
        self.registrations: dict[str, Registration] = {}
        self._operations: dict[str, Operation] = {}
        self._lock = threading.Lock()

    @property
    def id_scope(self) -> str:
        return self.state.id_scope

    # -- authentication ------------------------------------------------------------------------------
    def authenticate(self, chain: Sequence[x509.Certificate], registration_id: str,
                     now: dt.datetime | None = None) -> Decision:
        now = now or dt.datetime.now(dt.timezone.utc)
        if not chain:
            return Decision(refusal=error_answer(401, INVALID_CERTIFICATE, "Invalid certificate: the device sent no certificate."))
        problem = registration_id_problem(registration_id)
        if problem:
            return Decision(refusal=error_answer(400, BAD_REQUEST, problem))
        leaf, presented = chain[0], list(chain[1:])
        cn = common_name(leaf.subject) or ""
        if cn.lower() != registration_id.lower():
            return Decision(refusal=error_answer(
                401, INVALID_CERTIFICATE,
                f"Invalid certificate: the registration id '{registration_id}' does not match the certificate's "
                f"common name '{cn}'."))
        if now > leaf.not_valid_after_utc:
            return Decision(refusal=error_answer(
                401, INVALID_CERTIFICATE,
                f"Invalid certificate: the device certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC."))
        if now < leaf.not_valid_before_utc:
            return Decision(refusal=error_answer(
                401, INVALID_CERTIFICATE,
                f"Invalid certificate: the device certificate is not valid before "
                f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC."))

        # Enabled groups first: a chain that reaches both an enabled and a disabled group's CA
        # (say the root in one, the intermediate in another) registers through the enabled one.
        enabled = list(self.state.verified_ca_certificates())
        every = list(self.state.verified_ca_certificates(include_disabled=True))
        for candidates, group_enabled in ((enabled, True), (every, False)):
            anchors = [v.certificate for v in candidates]
            if anchors and _reaches(leaf, presented, anchors):
                return self._judge_path(leaf, presented, candidates, group_enabled, now)
        return Decision(refusal=self._no_verified_ca(leaf, presented))

    def _judge_path(self, leaf: x509.Certificate, presented: list[x509.Certificate],
                    candidates: list[VerifiedCertificate], group_enabled: bool, now: dt.datetime) -> Decision:
        try:
            report = validate_client_chain(leaf, presented, [v.certificate for v in candidates], at=now)
        except ChainError as exc:  # a path exists but a certificate on it is unfit
            return Decision(refusal=error_answer(401, INVALID_CERTIFICATE, f"Invalid certificate: {exc.message}"))
        if len(report.path) < 2:
            return Decision(refusal=error_answer(
                401, INVALID_CERTIFICATE,
                "Invalid certificate: the device certificate itself is registered as the group's certificate; an "
                "X.509 enrollment group authenticates devices through the CA that issued them."))
        anchor_der = to_der(report.anchor)
        if len(report.path) == 2 and anchor_der not in {to_der(c) for c in presented}:
            return Decision(refusal=error_answer(
                401, INVALID_CERTIFICATE,
                f"Invalid certificate: the device sent only its own certificate; the chain must include the "
                f"intermediate '{display_name(report.anchor)}' that is verified in the enrollment group "
                "(the chain is missing the intermediate)."))
        chosen = next(v for v in candidates if to_der(v.certificate) == anchor_der)
        return Decision(group_id=chosen.group_id, group_enabled=group_enabled)

    def _no_verified_ca(self, leaf: x509.Certificate, presented: list[x509.Certificate]) -> Answer:
        if not presented:
            return error_answer(
                401, INVALID_CERTIFICATE,
                "Invalid certificate: the device sent only its own certificate and no intermediate; it does not "
                "lead to a CA certificate verified in an enrollment group (the chain is missing the intermediate).")
        return error_answer(
            401, INVALID_CERTIFICATE,
            f"Invalid certificate: the chain of '{display_name(leaf)}' does not lead to a CA certificate that is "
            "verified in an enrollment group.")

    # -- requests -----------------------------------------------------------------------------------------
    def fault(self, method: str, operation: str) -> Answer | None:
        fault = self.faults.take(method, operation)
        if fault is None:
            return None
        if fault.kind == "drop":
            return Answer(0, {}, drop=True)
        if fault.kind == "latency":
            import time

            time.sleep(fault.seconds)
            return None
        status = int(fault.kind)
        retry = int(fault.retry_after) if fault.retry_after is not None else None
        if status == 429:
            return error_answer(429, THROTTLED, "Operations are being throttled for this device.", retry)
        return error_answer(status, INTERNAL if status >= 500 else BAD_REQUEST, "Internal server error.", retry)

    def register(self, decision: Decision, registration_id: str, body: bytes) -> Answer:
        try:
            request = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, ValueError):
            return error_answer(400, BAD_REQUEST, "The body of the request is not valid JSON.")
        if not isinstance(request, dict):
            return error_answer(400, BAD_REQUEST, "The body of the request must be a JSON object.")
        if request.get("registrationId") != registration_id:
            return error_answer(
                400, BAD_REQUEST,
                "The registrationId in the body does not match the registration id of the connection.")
        if decision.refusal is not None:
            return decision.refusal
        assert decision.group_id is not None
        operation = Operation(
            id=f"4.{secrets.token_hex(8)}.{uuid.uuid4()}", registration_id=registration_id,
            group_id=decision.group_id, group_enabled=decision.group_enabled, created=utc_text())
        with self._lock:
            self._operations[operation.id] = operation
        return Answer(202, {"operationId": operation.id, "status": "assigning"}, self.retry_after)

    def operation_status(self, registration_id: str, operation_id: str | None) -> Answer:
        with self._lock:
            operation = self._operations.get(operation_id or "")
        if operation is None or operation.registration_id != registration_id:
            return error_answer(404, NOT_FOUND, f"The operation '{operation_id}' was not found.")
        with self._lock:
            if operation.result is None:
                if operation.polls < self.polls_before_assigned:
                    operation.polls += 1
                    return Answer(202, {"operationId": operation.id, "status": "assigning"}, self.retry_after)
                operation.result = self._complete(operation)
            return Answer(200, operation.result)

    def _complete(self, operation: Operation) -> dict[str, Any]:
        now = utc_text()
        if not operation.group_enabled:
            return {
                "operationId": operation.id,
                "status": "disabled",
                "registrationState": {
                    "registrationId": operation.registration_id,
                    "createdDateTimeUtc": operation.created,
                    "status": "disabled",
                    "lastUpdatedDateTimeUtc": now,
                    "errorMessage": f"The enrollment group '{operation.group_id}' is disabled.",
                },
            }
        existing = self.registrations.get(operation.registration_id)
        registration = existing or Registration(operation.registration_id, operation.created, operation.group_id)
        registration.group_id = operation.group_id
        registration.etag = f'"{secrets.token_hex(8)}"'
        self.registrations[operation.registration_id] = registration
        self.state.upsert_device(operation.registration_id, provisioned=True, group_id=operation.group_id)
        return {
            "operationId": operation.id,
            "status": "assigned",
            "registrationState": {
                "x509": {},
                "registrationId": operation.registration_id,
                "createdDateTimeUtc": registration.created,
                "assignedHub": self.assigned_hub,
                "deviceId": operation.registration_id,
                "status": "assigned",
                "substatus": "initialAssignment",
                "lastUpdatedDateTimeUtc": now,
                "etag": registration.etag,
            },
        }
