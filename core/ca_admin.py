"""What the administrator's "verify an intermediate" wizard needs from core, without Qt:
the intermediate's certificate from where the administrator chose (as configured, fetched
from Sectigo, or a PEM/DER/PKCS#7 file), what is wrong with it in plain words, what the
chosen IoT Central enrollment group and entry hold now, and the proof of possession itself
with every outcome written to the registry's audit trail (operator + workstation).

Every function here may block (files, keyring, network, database): the GUI calls them on its
task runner. Nothing is stored before the administrator runs the verification, except what
`certbench ca fetch` would store: a certificate fetched from Sectigo is kept in the issuer's
cache, as the CLI does. A certificate from a file is imported only when the run starts.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from certbench.core.config import Intermediate, Settings
from certbench.core.errors import CertbenchError, InputError
from certbench.core.iotcentral.models import EnrollmentGroup
from certbench.core.workflows.progress import AuditHook, ProgressCallback
from certbench.core.x509.inspect import CertSummary, is_ca, sha1_thumbprint, summarize, warnings_for_intermediate

ORIGINS = ("configured", "sectigo", "file")
ENTRIES = ("primary", "secondary")


# -- where the certificate comes from -------------------------------------------------------------


def origins_for(item: Intermediate) -> tuple[str, ...]:
    """Where the wizard may take this intermediate's certificate from. A local-CA intermediate
    has its own; a Sectigo one can be (re)read from Sectigo or imported from a file."""
    return ORIGINS if item.source == "sectigo" else ("configured",)


def cannot_verify(item: Intermediate) -> str | None:
    """Why proof of possession is impossible for this intermediate, or None."""
    if item.source == "file":
        return (f"Intermediate '{item.name}' comes from a file: Certbench holds no way to issue through it, so it "
                "cannot sign the verification certificate IoT Central asks for. Configure it with source Sectigo "
                "(profile and org id) or local in Settings.")
    return None


@dataclass(frozen=True)
class Candidate:
    """An intermediate's certificate as the wizard shows it before anything is sent."""

    name: str  # the configured intermediate it is for
    origin: str  # configured | sectigo | file
    certificate: x509.Certificate = field(repr=False)
    chain_above: tuple[x509.Certificate, ...] = field(repr=False, default=())
    summary: CertSummary | None = None
    warnings: tuple[str, ...] = ()
    # Why it must not be verified (not a CA, expired, not yet valid); None: it may be.
    blocker: str | None = None
    path: str | None = None  # the file it came from (imported when the run starts)

    @property
    def thumbprint(self) -> str:
        return self.summary.sha1_thumbprint if self.summary else ""


def candidate(name: str, origin: str, chain: Sequence[x509.Certificate], *, path: str | None = None,
              at: datetime | None = None) -> Candidate:
    """Summary, warnings and blocker for `chain[0]`, the would-be intermediate."""
    cert = chain[0]
    summary = summarize(cert, at=at)
    warnings = tuple(warnings_for_intermediate(cert, at=at))
    blocker = None
    if not summary.is_ca:
        blocker = next((w for w in warnings if "not a CA certificate" in w),
                       f"'{summary.common_name}' is not a CA certificate.")
        blocker += " IoT Central would refuse it. Choose the intermediate CA's certificate, not a device certificate."
    elif summary.expired:
        blocker = (f"'{summary.common_name}' expired on {summary.not_after:%Y-%m-%d}. Renew the intermediate "
                   "(or import its renewed certificate) and verify the new one.")
    elif summary.not_yet_valid:
        blocker = (f"'{summary.common_name}' is not valid before {summary.not_before:%Y-%m-%d %H:%M} UTC. Check this "
                   "workstation's clock, or wait until it becomes valid.")
    return Candidate(name, origin, cert, tuple(chain[1:]), summary, warnings, blocker, path)


def load_configured(settings: Settings, name: str) -> Candidate:
    """The certificate Certbench already holds for `name` (local CA, or fetched earlier)."""
    from certbench.core.pki.factory import issuer_from_settings

    item = settings.intermediate(name)
    problem = cannot_verify(item)
    if problem:
        raise InputError(problem)
    issuer = issuer_from_settings(settings)
    try:
        info = issuer.intermediate(name)
    finally:
        _close(issuer)
    return candidate(name, "configured", [info.certificate, *info.chain_above])


def fetch_from_sectigo(settings: Settings, name: str, order_id: str | None = None) -> Candidate:
    """`certbench ca fetch NAME`: read the intermediate from an issued order on its Sectigo
    profile (the newest, or `order_id`) and keep it in the issuer's cache."""
    from certbench.core.pki.sectigo.issuer import SectigoIssuer

    item = settings.intermediate(name)
    if item.source != "sectigo":
        raise InputError(f"Intermediate '{name}' has source '{item.source}', not Sectigo.",
                         "Only Sectigo intermediates are fetched from Sectigo.")
    issuer = SectigoIssuer.from_settings(settings)
    try:
        info = issuer.fetch_intermediate(name, order_id or None)
    finally:
        issuer.close()
    return _against_settings(item, candidate(name, "sectigo", [info.certificate, *info.chain_above]))


def load_from_file(settings: Settings, name: str, path: str | Path) -> Candidate:
    """The intermediate in a PEM, DER or PKCS#7 file (with or without its chain; a device
    certificate in front of its CA is skipped, as `ca fetch --file` does). Not stored yet."""
    from certbench.core.x509.chain import ChainError, order_chain
    from certbench.core.x509.parse import load_certificate_file

    item = settings.intermediate(name)
    if item.source != "sectigo":
        raise InputError(f"Intermediate '{name}' has source '{item.source}': its certificate is not imported from a file.",
                         "Only Sectigo intermediates take their certificate from a file.")
    certs = load_certificate_file(path)
    try:
        chain = order_chain(certs)
    except ChainError as exc:
        raise InputError(f"'{path}' is not one certificate chain: {exc.message}", exc.hint) from None
    if not is_ca(chain[0]) and len(chain) > 1 and is_ca(chain[1]):
        chain = chain[1:]
    return _against_settings(item, candidate(name, "file", chain, path=str(path)))


def _against_settings(item: Intermediate, found: Candidate) -> Candidate:
    """A Sectigo intermediate whose certificate file is set in Settings issues with that
    file's certificate: another one cannot be verified for it."""
    from dataclasses import replace

    from certbench.core.x509.parse import load_certificate_file

    if found.blocker or not item.certificate_file:
        return found
    try:
        configured = sha1_thumbprint(load_certificate_file(item.certificate_file)[0])
    except CertbenchError:
        return found  # an unreadable configured file is reported when the run reads it
    if configured == found.thumbprint:
        return found
    return replace(found, blocker=(
        f"Settings name the certificate file {item.certificate_file} for '{item.name}', which holds another "
        f"certificate (thumbprint {configured}). Change that file in Settings first, or take the certificate "
        "as Certbench holds it."))


# -- IoT Central groups -------------------------------------------------------------------------


def list_groups(settings: Settings) -> list[EnrollmentGroup]:
    from certbench.core.iotcentral import IoTCentralClient

    with IoTCentralClient.from_settings(settings.iotcentral) as client:
        return client.list_groups()


@dataclass(frozen=True)
class EntryState:
    """What the chosen group/entry holds now, for the certificate about to be verified."""

    kind: str  # new-group | not-x509 | elsewhere | free | same | same-verified | other
    message: str
    held_thumbprint: str | None = None
    held_verified: bool = False

    @property
    def blocked(self) -> bool:
        return self.kind in ("not-x509", "elsewhere")

    @property
    def needs_replace(self) -> bool:
        return self.kind == "other"


def entry_state(groups: Sequence[EnrollmentGroup], group_id: str, entry: str, thumbprint: str) -> EntryState:
    """The same checks `verify_intermediate` makes before changing anything, said up front."""
    thumbprint = thumbprint.upper()
    for group in groups:
        held = group.entry_holding(thumbprint)
        if held is not None and (group.id, held.entry) != (group_id, entry):
            return EntryState("elsewhere", (
                f"This certificate is already in the {held.entry} entry of group '{group.id}'; IoT Central allows a "
                f"certificate in one place only. Choose that group and entry, or remove it there first."),
                held.sha1_thumbprint, held.verified)
    group = next((g for g in groups if g.id == group_id), None)
    if group is None:
        return EntryState("new-group", f"Group '{group_id}' does not exist yet: it will be created (X.509, enabled).")
    if group.attestation_type != "x509":
        return EntryState("not-x509", f"Group '{group_id}' uses {group.attestation_type or 'another'} attestation, not "
                                      "X.509 certificates. Choose an X.509 group or a new group id.")
    held = group.certificates.get(entry)
    if held is None or not held.sha1_thumbprint:
        return EntryState("free", f"The {entry} entry of '{group_id}' is empty: the certificate will be uploaded there.")
    if held.sha1_thumbprint == thumbprint:
        if held.verified:
            return EntryState("same-verified", f"The {entry} entry already holds this certificate, verified. "
                                               "Running again only confirms it.", held.sha1_thumbprint, True)
        return EntryState("same", f"The {entry} entry holds this certificate, not verified yet: the run resumes at "
                                  "the verification code.", held.sha1_thumbprint, False)
    return EntryState("other", (
        f"The {entry} entry holds a different certificate (thumbprint {held.sha1_thumbprint}, "
        f"{'verified' if held.verified else 'not verified'}). Devices issued from it stop registering if it is "
        "replaced."), held.sha1_thumbprint, held.verified)


# -- running ------------------------------------------------------------------------------------


def default_operator() -> str:
    """Who is at the keyboard: the signed-in Windows account (recorded with every event)."""
    try:
        return getpass.getuser() or "administrator"
    except (OSError, KeyError, ImportError):
        return "administrator"


def registry_audit_hook(registry, actor) -> AuditHook:
    """The workflow's audit hook writing to the registry's audit trail. A refusal before
    anything changed (bad input, wrong place) is recorded as `refused`, other errors as
    `failed`; the workflow's own outcome word is kept in the details."""

    def hook(event: str, outcome: str, details: dict) -> None:
        if outcome == "failed":
            recorded = "refused" if details.get("error_type") == "InputError" else "failed"
        else:
            recorded = "ok"
        registry.audit(event, actor=actor, subject=details.get("intermediate"), outcome=recorded,
                       error=details.get("error"), details={**details, "result": outcome})

    return hook


def run_verification(
    settings: Settings,
    chosen: Candidate,
    group: str,
    entry: str,
    *,
    replace: bool = False,
    operator: str | None = None,
    progress: ProgressCallback | None = None,
):
    """Prove possession of `chosen` in `group`/`entry` (see core.workflows.ca_verification),
    importing it first when it came from a file. Returns the `VerificationOutcome`."""
    from certbench.core.iotcentral import IoTCentralClient
    from certbench.core.pki.factory import issuer_from_settings
    from certbench.core.registry import Actor, open_registry
    from certbench.core.workflows.ca_verification import verify_intermediate

    if chosen.blocker:
        raise InputError(chosen.blocker)
    item = settings.intermediate(chosen.name)
    problem = cannot_verify(item)
    if problem:
        raise InputError(problem)
    actor = Actor(operator or default_operator(), settings.bench.workstation)
    if chosen.origin == "file":
        from certbench.core.pki.sectigo.issuer import SectigoIssuer

        importer = SectigoIssuer.from_settings(settings)
        try:
            importer.import_intermediate(chosen.name, chosen.path)
        finally:
            importer.close()
    issuer = issuer_from_settings(settings)
    try:
        held = sha1_thumbprint(issuer.intermediate(chosen.name).certificate)
        if held != chosen.thumbprint:
            raise CertbenchError(
                f"Certbench now holds another certificate for '{chosen.name}' (thumbprint {held}) than the "
                f"one inspected ({chosen.thumbprint}).",
                f"Settings name the file {item.certificate_file} for it: take the certificate 'as Certbench holds it', "
                "or change that file in Settings first." if item.certificate_file else
                "Someone fetched or imported it meanwhile; start the wizard again.",
            )
        with IoTCentralClient.from_settings(settings.iotcentral) as client, \
                open_registry(settings.registry.url or None) as registry:
            return verify_intermediate(
                client, issuer, chosen.name, group=group, entry=entry, replace=replace,
                group_display_name=f"MediCorp devices ({group})", progress=progress,
                audit=registry_audit_hook(registry, actor),
            )
    finally:
        _close(issuer)


def _close(issuer) -> None:
    # A routing issuer holds one issuer per source; those with a network client close it.
    routes = getattr(issuer, "_routes", None)
    for each in dict.fromkeys(routes.values()) if isinstance(routes, dict) else (issuer,):
        close = getattr(each, "close", None)
        if callable(close):
            close()


__all__ = [
    "ENTRIES",
    "ORIGINS",
    "Candidate",
    "EntryState",
    "candidate",
    "cannot_verify",
    "default_operator",
    "entry_state",
    "fetch_from_sectigo",
    "list_groups",
    "load_configured",
    "load_from_file",
    "origins_for",
    "registry_audit_hook",
    "run_verification",
]
