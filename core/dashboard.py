"""What the bench dashboard shows, gathered without Qt so the GUI can run it on a worker
thread: the configured intermediates with their expiry, today's units, the instruments
attached, and how each outside service is configured.

IoT Central's verification status needs a configured application and token; until then the
panel says "not checked".
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from certbench.core import secrets
from certbench.core.config import BenchSettings, Settings, load_settings
from certbench.core.errors import CertbenchError

log = logging.getLogger(__name__)

# An intermediate that expires within this many days is flagged on the dashboard.
EXPIRY_WARNING_DAYS = 60


# -- intermediates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntermediateRow:
    name: str
    display_name: str
    source: str
    group: str
    entry: str
    not_after: dt.datetime | None = None
    # "valid" | "expiring" | "expired" | "unknown"
    expiry: str = "unknown"
    # True/False once IoT Central has been asked; None: not checked.
    verified: bool | None = None
    note: str = ""


def expiry_state(not_after: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if not_after is None:
        return "unknown"
    now = now or dt.datetime.now(dt.UTC)
    if not_after <= now:
        return "expired"
    if not_after - now <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def intermediate_rows(settings: Settings, *, create_local_ca: bool = False, now: dt.datetime | None = None) -> list[IntermediateRow]:
    """One row per configured intermediate. The local CA is only created when asked
    (`create_local_ca`, demo mode): opening the dashboard must not make CA keys by itself."""
    from certbench.core.pki.local import LocalCA
    from certbench.core.x509.chain import order_chain
    from certbench.core.x509.parse import load_certificates

    local_ca = None
    if any(i.source == "local" for i in settings.intermediates):
        local_ca = LocalCA.from_settings(settings)
        if create_local_ca:
            local_ca.ensure()
    rows = []
    for item in settings.intermediates:
        not_after: dt.datetime | None = None
        note = ""
        try:
            if item.source == "local":
                if local_ca is not None and local_ca.exists:
                    not_after = local_ca.intermediate(item.name).certificate.not_valid_after_utc
                else:
                    note = "The local CA has not been created yet."
            elif item.certificate_file:
                # The file may carry the chain above the intermediate (a Sectigo download does).
                path = Path(item.certificate_file)
                chain = order_chain(load_certificates(path.read_bytes(), source=str(path)))
                not_after = chain[0].not_valid_after_utc
            else:
                note = "Certificate not imported yet."
        except (OSError, CertbenchError) as exc:
            note = exc.message if isinstance(exc, CertbenchError) else f"Cannot read the certificate: {exc.strerror or exc}."
        rows.append(
            IntermediateRow(
                name=item.name,
                display_name=item.display_name or item.name,
                source=item.source,
                group=item.group,
                entry=item.entry,
                not_after=not_after,
                expiry=expiry_state(not_after, now),
                note=note,
            )
        )
    return rows


def verification_status_available() -> bool:
    return True


def verification_status(settings: Settings) -> dict[str, bool | None]:
    """{intermediate name: verified in IoT Central?}; empty while no IoT Central application
    or token is configured (the panel then says "not checked")."""
    from certbench.core.iotcentral import IoTCentralClient
    from certbench.core.pki.factory import issuer_from_settings
    from certbench.core.workflows.ca_verification import status

    iot = settings.iotcentral
    if not (iot.base_url or iot.subdomain) or not secrets.get_secret(secrets.IOTCENTRAL_TOKEN):
        return {}
    issuer = issuer_from_settings(settings)
    client = IoTCentralClient.from_settings(iot)
    try:
        rows = status(client, settings.intermediates, lambda name: issuer.intermediate(name).certificate)
    finally:
        client.close()
    return {row.name: (row.verified if row.state != "unknown" else None) for row in rows}


# -- units ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitCounts:
    done: int = 0
    failed: int = 0
    in_progress: int = 0


def start_of_today(now: dt.datetime | None = None) -> dt.datetime:
    """Local midnight (the bench's working day), as an aware datetime."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def todays_units(registry_url: str | None, *, now: dt.datetime | None = None, page: int = 200) -> UnitCounts:
    """Units touched since local midnight, by state. Pages through the registry's
    most-recently-changed-first listing and stops at the first unit older than today."""
    from certbench.core.registry import UnitState, open_registry
    from certbench.core.registry.states import IN_PROGRESS

    since = start_of_today(now)
    done = failed = in_progress = 0
    registry = open_registry(registry_url or None)
    try:
        offset = 0
        while True:
            units = registry.list_units(limit=page, offset=offset)
            for unit in units:
                if unit.updated_at < since:
                    return UnitCounts(done, failed, in_progress)
                if unit.state == UnitState.DONE:
                    done += 1
                elif unit.state == UnitState.FAILED:
                    failed += 1
                elif unit.state in IN_PROGRESS:
                    in_progress += 1
            if len(units) < page:
                return UnitCounts(done, failed, in_progress)
            offset += page
    finally:
        registry.close()


# -- instruments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentRow:
    port: str
    model: str = ""
    serial: str = ""
    state: str = ""


def instrument_discovery_available() -> bool:
    return True


def instrument_ports(bench: BenchSettings) -> list[str]:
    """The ports to ask HELLO on: `[bench] instrument_ports` when set (taken as given: a URL
    has no USB identity), else every serial port of this PC, only the USB adapters listed in
    `instrument_usb_ids` when that is set (a bench's scanner or a modem stays unasked)."""
    if bench.instrument_ports:
        return list(bench.instrument_ports)
    from certbench.core.instrument.ports import list_ports
    from certbench.core.naming.scanner import parse_vid_pid

    wanted = {parse_vid_pid(usb_id) for usb_id in bench.instrument_usb_ids}
    return [p.device for p in list_ports() if not wanted or (p.vid, p.pid) in wanted]


def discover_instruments(ports: list[str] | None = None, settings: Settings | None = None) -> list[InstrumentRow]:
    """Instruments on `ports` (e.g. the simulated instruments of demo mode), else on the ports
    the bench settings name (`instrument_ports`), identified by what they answer to HELLO at
    `instrument_baud`, never by port name. Without `settings`, the saved settings apply."""
    from certbench.core.instrument.ports import probe

    if settings is None:
        settings = load_settings()
    candidates = ports if ports is not None else instrument_ports(settings.bench)
    rows = []
    for found in probe(candidates, settings.bench.instrument_baud):
        if found.hello is None:
            continue
        flags = [f.name.lower().replace("_", " ") for f in type(found.hello.state) if f in found.hello.state]
        rows.append(InstrumentRow(found.port, found.hello.model, found.hello.serial, ", ".join(flags) or "ready"))
    return rows


# -- services -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    service: str  # "iotcentral" | "sectigo" | "registry"
    configured: bool
    summary: str
    missing: list[str] = field(default_factory=list)
    # False: nothing configured uses this service (e.g. Sectigo when all CAs are local).
    used: bool = True
    detail: str = ""


def _has_secret(name: str) -> bool:
    try:
        return bool(secrets.get_secret(name))
    except CertbenchError:
        return False


def service_states(settings: Settings) -> list[ServiceState]:
    """How each outside service is configured (no network call: that is "Test connection")."""
    from certbench.core.registry.db import describe, resolve_url

    iotc = settings.iotcentral
    missing = []
    if not (iotc.subdomain or iotc.base_url):
        missing.append("application (subdomain or base URL)")
    if not _has_secret(secrets.IOTCENTRAL_TOKEN):
        missing.append("API token")
    where = iotc.base_url or (f"{iotc.subdomain}.{iotc.dns_suffix}" if iotc.subdomain else "")
    states = [ServiceState("iotcentral", not missing, where or "not configured", missing)]

    sect = settings.sectigo
    missing = []
    if not sect.customer_uri and sect.auth != "oauth2":
        missing.append("customerUri")
    if not sect.login and sect.auth != "oauth2":
        missing.append("login")
    needed = {
        "password": (secrets.SECTIGO_PASSWORD, "password"),
        "client-cert": (secrets.SECTIGO_CLIENT_CERT_PASSPHRASE, "client certificate passphrase"),
        "oauth2": (secrets.SECTIGO_OAUTH_SECRET, "OAuth client secret"),
    }[sect.auth]
    if sect.auth == "client-cert" and not sect.client_cert_file:
        missing.append("client certificate file")
    if sect.auth == "oauth2" and not sect.oauth_client_id:
        missing.append("OAuth client id")
    if not _has_secret(needed[0]):
        missing.append(needed[1])
    uses_sectigo = any(i.source == "sectigo" for i in settings.intermediates)
    summary = f"{sect.base_url} ({sect.auth})" if not missing else "not configured"
    if not uses_sectigo and missing:
        summary = "not used (no intermediate comes from Sectigo)"
    states.append(ServiceState("sectigo", not missing, summary, missing, used=uses_sectigo))

    try:
        url = resolve_url(settings.registry.url or None)
        if url.get_backend_name() == "sqlite":
            summary = f"SQLite file {Path(url.database or '').name} on this workstation"
        else:
            summary = f"PostgreSQL {url.host or 'localhost'}/{url.database or ''}"
        states.append(ServiceState("registry", True, summary, detail=describe(url)))
    except CertbenchError as exc:
        states.append(ServiceState("registry", False, exc.message, ["database URL"]))
    return states


__all__ = [
    "EXPIRY_WARNING_DAYS",
    "InstrumentRow",
    "IntermediateRow",
    "ServiceState",
    "UnitCounts",
    "discover_instruments",
    "expiry_state",
    "instrument_discovery_available",
    "instrument_ports",
    "intermediate_rows",
    "service_states",
    "start_of_today",
    "todays_units",
    "verification_status",
    "verification_status_available",
]
