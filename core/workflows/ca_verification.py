"""Proof of possession for an intermediate CA in IoT Central, in one action:

check the intermediate -> find or create the enrollment group -> find the certificate in
the chosen entry by thumbprint, or upload it -> get a verification code -> have the Issuer
make a certificate with CN = code through that intermediate -> check it locally (CN,
issuer, signature, validity) -> verify -> re-read the entry and confirm `verified: true`.

Idempotent and resumable: every run starts from what IoT Central holds, so an intermediate
already verified is reported, not redone, and a run broken between the code and verify is
finished by the next run (or within the same run: a verify whose answer was lost is
checked by reading the entry, then done again with a fresh code). An entry holding a
different certificate is never overwritten without `replace=True`.

`status()` shows where every configured intermediate stands.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from certbench.core.errors import CertbenchError, InputError, ServiceError
from certbench.core.iotcentral.client import IoTCentralClient, check_entry, check_group_id
from certbench.core.iotcentral.errors import IoTCentralConnectionError, IoTCentralServerError
from certbench.core.iotcentral.models import EnrollmentGroup
from certbench.core.pki.base import Issuer, OrderPending
from certbench.core.workflows.progress import AuditHook, ProgressCallback, ProgressReporter
from certbench.core.x509.chain import verify_signed_by
from certbench.core.x509.inspect import common_name, display_name, is_ca, sha1_thumbprint

AUDIT_EVENT = "iotcentral.ca_verification"
AUDIT_UPLOAD = "iotcentral.certificate_upload"
STEPS = ("check-intermediate", "group", "entry", "upload", "code", "issue", "check-local", "verify", "confirm")


class VerificationCertificateError(InputError):
    """The Issuer produced a verification certificate IoT Central would reject."""


@dataclass(frozen=True)
class VerificationOutcome:
    intermediate: str
    group: str
    entry: str
    thumbprint: str
    verified: bool
    already_verified: bool
    uploaded: bool
    not_after: dt.datetime
    replaced_thumbprint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intermediate": self.intermediate,
            "group": self.group,
            "entry": self.entry,
            "thumbprint": self.thumbprint,
            "verified": self.verified,
            "already_verified": self.already_verified,
            "uploaded": self.uploaded,
            "replaced_thumbprint": self.replaced_thumbprint,
            "not_after": self.not_after.isoformat(),
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_intermediate_certificate(cert: x509.Certificate, name: str, now: dt.datetime | None = None) -> None:
    """Refuse, before anything is sent, a certificate IoT Central would refuse or that could
    never sign a device certificate."""
    now = now or _now()
    shown = display_name(cert)
    if not is_ca(cert):
        raise InputError(
            f"The certificate of intermediate '{name}' ({shown}) is not a CA certificate, so it cannot sign "
            "device certificates and IoT Central would refuse it.",
            "Check the intermediate's certificate file or Sectigo profile: it must be the issuing CA, not a device certificate.",
        )
    if now > cert.not_valid_after_utc:
        raise InputError(
            f"The certificate of intermediate '{name}' ({shown}) expired on {cert.not_valid_after_utc:%Y-%m-%d}.",
            "Renew the intermediate (or import its renewed certificate) and verify the new one.",
        )
    if now < cert.not_valid_before_utc:
        raise InputError(
            f"The certificate of intermediate '{name}' ({shown}) is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
            "Check the workstation's clock, or wait until it becomes valid.",
        )


def check_verification_certificate(
    verification: x509.Certificate, intermediate: x509.Certificate, code: str, now: dt.datetime | None = None
) -> None:
    """The same checks IoT Central makes, done first so a bad certificate is never sent."""
    now = now or _now()
    cn = common_name(verification.subject)
    if cn != code:
        raise VerificationCertificateError(
            f"The verification certificate's CN is '{cn}', not the verification code IoT Central gave.",
            "The issuer did not use the code as the common name; check its certificate profile, then retry.",
        )
    if verification.issuer != intermediate.subject or not verify_signed_by(verification, intermediate):
        raise VerificationCertificateError(
            f"The verification certificate was not signed by intermediate '{display_name(intermediate)}' "
            f"(its issuer is '{verification.issuer.rfc4514_string()}').",
            "The issuer signed with another CA; check which intermediate its profile issues from, then retry.",
        )
    if now > verification.not_valid_after_utc or now < verification.not_valid_before_utc:
        raise VerificationCertificateError(
            f"The verification certificate is not valid now (valid {verification.not_valid_before_utc:%Y-%m-%d %H:%M} "
            f"to {verification.not_valid_after_utc:%Y-%m-%d %H:%M} UTC).",
            "Check the workstation's clock and the issuer's validity settings, then retry.",
        )


def _locate(groups: Sequence[EnrollmentGroup], thumbprint: str) -> tuple[EnrollmentGroup, str] | None:
    for group in groups:
        entry = group.entry_holding(thumbprint)
        if entry is not None:
            return group, entry.entry
    return None


def verify_intermediate(
    client: IoTCentralClient,
    issuer: Issuer,
    intermediate: str,
    *,
    group: str,
    entry: str,
    replace: bool = False,
    group_display_name: str | None = None,
    progress: ProgressCallback | None = None,
    audit: AuditHook | None = None,
    rounds: int = 2,
) -> VerificationOutcome:
    """Prove possession of `intermediate` in `group`/`entry`. See the module docstring."""
    reporter = ProgressReporter(progress)
    base = {"intermediate": intermediate, "group": group, "entry": entry}
    try:
        outcome = _run(client, issuer, intermediate, group, entry, replace, group_display_name, reporter, audit, rounds)
    except CertbenchError as exc:
        if audit is not None:
            audit(AUDIT_EVENT, "failed", {**base, "error": exc.message, "error_type": type(exc).__name__})
        raise
    if audit is not None:
        audit(AUDIT_EVENT, "already-verified" if outcome.already_verified else "verified", outcome.to_dict())
    return outcome


def _run(
    client: IoTCentralClient,
    issuer: Issuer,
    name: str,
    group_id: str,
    entry: str,
    replace: bool,
    group_display_name: str | None,
    reporter: ProgressReporter,
    audit: AuditHook | None,
    rounds: int,
) -> VerificationOutcome:
    with reporter.step("check-intermediate", f"Checking intermediate '{name}'.") as out:
        check_group_id(group_id)
        check_entry(entry)
        cert = issuer.intermediate(name).certificate
        check_intermediate_certificate(cert, name)
        thumbprint = sha1_thumbprint(cert)
        out.update(thumbprint=thumbprint, not_after=cert.not_valid_after_utc.isoformat(),
                   message=f"'{name}' is a valid CA certificate (thumbprint {thumbprint}).")

    with reporter.step("group", f"Looking up enrollment group '{group_id}'.") as out:
        groups = client.list_groups()
        # Where the certificate already sits is checked before anything is created, so a
        # refusal leaves IoT Central exactly as it was.
        found = _locate(groups, thumbprint)
        if found is not None and (found[0].id, found[1]) != (group_id, entry):
            where_group, where_entry = found
            raise InputError(
                f"Intermediate '{name}' (thumbprint {thumbprint}) is already in the {where_entry} entry of enrollment "
                f"group '{where_group.id}'; IoT Central allows a certificate in one place only.",
                f"Verify it there (--group {where_group.id} --entry {where_entry}), or remove it from that group first.",
            )
        group = next((g for g in groups if g.id == group_id), None)
        if group is not None and group.attestation_type != "x509":
            raise InputError(
                f"Enrollment group '{group_id}' uses {group.attestation_type} attestation, not X.509 certificates.",
                "Choose an X.509 enrollment group, or a new group id (Certbench creates it).",
            )
        held = group.certificates.get(entry) if group is not None else None
        if held is not None and held.sha1_thumbprint != thumbprint and not replace:
            raise InputError(
                f"The {entry} entry of '{group_id}' holds a different certificate (thumbprint {held.sha1_thumbprint}, "
                f"{'verified' if held.verified else 'not verified'}); it was left as it is.",
                "Devices issued from that certificate stop registering if it is replaced. Use the other entry, "
                "or pass --replace if replacing it is intended.",
            )
        if group is None:
            group = client.create_group(group_id, group_display_name or group_id)
            out.update(created=True, message=f"Created enrollment group '{group_id}'.")
        else:
            out.update(created=False, message=f"Enrollment group '{group_id}' exists.")
        if not group.enabled:
            out["warning"] = "The group is disabled: devices cannot register through it until it is enabled."

    with reporter.step("entry", f"Checking the {entry} entry of '{group_id}'.") as out:
        held = group.certificates.get(entry)
        replaced = held.sha1_thumbprint if held is not None and held.sha1_thumbprint != thumbprint else None
        present = held is not None and held.sha1_thumbprint == thumbprint
        out.update(present=present, verified=bool(present and held and held.verified), holds_other=replaced,
                   message=(f"The {entry} entry already holds '{name}'." if present else
                            f"The {entry} entry holds another certificate, which will be replaced." if replaced else
                            f"The {entry} entry is free."))

    if present and held is not None and held.verified:
        for step in STEPS[3:-1]:
            reporter.skip(step, f"'{name}' is already verified in {group_id}/{entry}.")
        reporter.emit("confirm", "done", f"'{name}' is verified in {group_id}/{entry}.", verified=True)
        return VerificationOutcome(name, group_id, entry, thumbprint, True, True, False, cert.not_valid_after_utc)

    uploaded = False
    if present:
        reporter.skip("upload", f"'{name}' is already uploaded (not verified yet); resuming at the verification code.")
    else:
        with reporter.step("upload", f"Uploading '{name}' into {group_id}/{entry}.") as out:
            result = client.set_certificate(group_id, entry, cert)
            if result.sha1_thumbprint != thumbprint:
                raise ServiceError(
                    f"IoT Central reports thumbprint {result.sha1_thumbprint} for the uploaded certificate, not {thumbprint}.",
                    "Retry; if it persists, check for a proxy altering requests.",
                )
            uploaded = True
            out["message"] = f"Uploaded '{name}' ({thumbprint})."
        if audit is not None:
            audit(AUDIT_UPLOAD, "uploaded", {"intermediate": name, "group": group_id, "entry": entry,
                                             "thumbprint": thumbprint, "replaced_thumbprint": replaced})

    for round_ in range(1, rounds + 1):
        asking = "Asking IoT Central for a verification code." if round_ == 1 else (
            f"The verify answer was lost and the entry is not verified: asking for a fresh code (try {round_}).")
        with reporter.step("code", asking) as out:
            code = client.generate_verification_code(group_id, entry)
            out["message"] = "Received a verification code." if round_ == 1 else (
                f"The verify answer was lost and the entry is not verified: received a fresh code (try {round_}).")
        with reporter.step("issue", f"Issuing the verification certificate through '{name}'.") as out:
            try:
                verification = issuer.issue_verification_certificate(name, code).certificate
            except OrderPending as pending:
                # The issuer's own hint ("collect order N later") does not fit here: the code
                # will be stale by then, and a rerun simply orders again with a fresh one.
                approval = pending.reason == "awaiting approval"
                raise ServiceError(
                    f"The {issuer.kind} issuer has not issued the verification certificate for '{name}' yet "
                    f"(order {pending.order_id}: {pending.reason}).",
                    ("The profile of this intermediate needs an administrator's approval for every order; approve "
                     f"order {pending.order_id} in Sectigo, then " if approval else "Wait a few minutes, then ")
                    + f"run `certbench ca verify {name}` again: it asks for a fresh code and orders a new "
                    "verification certificate. The pending order can be left as it is.",
                ) from None
            out["message"] = f"Issued by {issuer.kind} issuer."
        with reporter.step("check-local", "Checking the verification certificate before sending it.") as out:
            check_verification_certificate(verification, cert, code)
            out["message"] = f"The verification certificate carries the code and is signed by '{name}'."
        try:
            with reporter.step("verify", "Sending the verification certificate.", round=round_) as out:
                client.verify_certificate(group_id, entry, verification)
                out["message"] = "IoT Central accepted the verification certificate."
        except (IoTCentralConnectionError, IoTCentralServerError):
            # The verify may or may not have happened: read the entry to find out.
            state = client.get_certificate(group_id, entry)
            if state.verified and state.sha1_thumbprint == thumbprint:
                break
            if round_ >= rounds:
                raise
            continue
        break

    with reporter.step("confirm", f"Confirming {group_id}/{entry} is verified.") as out:
        state = client.get_certificate(group_id, entry)
        if state.sha1_thumbprint != thumbprint or not state.verified:
            raise ServiceError(
                f"After verification IoT Central shows the {entry} entry of '{group_id}' as "
                f"{'verified' if state.verified else 'not verified'} with thumbprint {state.sha1_thumbprint}.",
                "Someone may have changed the entry meanwhile; run the verification again.",
            )
        out.update(verified=True, message=f"'{name}' is verified in {group_id}/{entry}.")
    return VerificationOutcome(name, group_id, entry, thumbprint, True, False, uploaded, cert.not_valid_after_utc, replaced)


# -- status ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntermediateStatus:
    name: str
    group: str  # configured
    entry: str  # configured
    state: str  # verified | uploaded | not-uploaded | other-certificate | unknown
    verified: bool
    thumbprint: str | None = None
    not_after: dt.datetime | None = None
    days_left: int | None = None
    found_group: str | None = None
    found_entry: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["not_after"] = self.not_after.isoformat() if self.not_after else None
        return data


def status(
    client: IoTCentralClient,
    intermediates: Sequence[Any],
    certificate_for: Callable[[str], x509.Certificate],
) -> list[IntermediateStatus]:
    """Where each intermediate stands. `intermediates` are config `Intermediate`s (name,
    group, entry); `certificate_for(name)` gives each one's certificate (from its Issuer or
    file). IoT Central is read once; a certificate that cannot be loaded is shown as
    `unknown` with the reason, not raised."""
    groups = client.list_groups()
    by_id = {g.id: g for g in groups}
    now = _now()
    rows = []
    for item in intermediates:
        try:
            cert = certificate_for(item.name)
        except (CertbenchError, OSError, ValueError) as exc:
            rows.append(IntermediateStatus(item.name, item.group, item.entry, "unknown", False,
                                           problem=getattr(exc, "message", None) or str(exc)))
            continue
        thumbprint = sha1_thumbprint(cert)
        days_left = math.floor((cert.not_valid_after_utc - now) / dt.timedelta(days=1))
        found = _locate(groups, thumbprint)
        problem = None
        if found is not None:
            group, entry = found
            held = group.certificates[entry]
            state = "verified" if held.verified else "uploaded"
            if item.group and (group.id, entry) != (item.group, item.entry):
                problem = f"Configured for {item.group}/{item.entry or '?'} but found in {group.id}/{entry}."
            elif not group.enabled:
                problem = f"Enrollment group '{group.id}' is disabled."
            found_group, found_entry, verified = group.id, entry, held.verified
        else:
            found_group = found_entry = None
            verified = False
            configured = by_id.get(item.group)
            other = configured.certificates.get(item.entry) if configured and item.entry else None
            if other is not None:
                state = "other-certificate"
                problem = f"{item.group}/{item.entry} holds another certificate ({other.sha1_thumbprint})."
            else:
                state = "not-uploaded"
                if not item.group or not item.entry:
                    problem = "No enrollment group/entry is configured for it."
        if days_left < 0:
            problem = f"Expired on {cert.not_valid_after_utc:%Y-%m-%d}." + (f" {problem}" if problem else "")
        if not is_ca(cert):
            problem = (f"Not a CA certificate ('{display_name(cert)}'): check its file or source."
                       + (f" {problem}" if problem else ""))
        rows.append(IntermediateStatus(item.name, item.group, item.entry, state, verified, thumbprint,
                                       cert.not_valid_after_utc, days_left, found_group, found_entry, problem))
    return rows


__all__ = [
    "AUDIT_EVENT",
    "AUDIT_UPLOAD",
    "STEPS",
    "IntermediateStatus",
    "VerificationCertificateError",
    "VerificationOutcome",
    "check_intermediate_certificate",
    "check_verification_certificate",
    "status",
    "verify_intermediate",
]
