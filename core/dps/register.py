"""Register a device with DPS the way the device will: the real azure-iot-device client,
the leaf chain and key, over MQTT/TLS on port 8883.

`register_with_dps()` never raises for a refusal: it returns a RegistrationOutcome that says
what happened in a technician's words (assigned, or why not). It raises InputError only for
input that could not be tried at all (no chain, a key that is not the leaf's).

The SDK only says "register request returned a service error status code 401"; the error
body (errorCode 401002, message) is in its debug log, so that one logger is listened to
while registrations run, with the records kept out of the application's logs. Each record is
handed to the registration it belongs to (found from the SDK stage that logs it), so several
registrations (one per bench port) run at once; two of the same registration id wait for
each other. The refusal is then explained with what the workstation knows about
the chain it sent: a leaf alone is "the chain is missing the intermediate", a CN other than
the registration id, an expired leaf; otherwise the CA is not verified in an enabled group.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509

from certbench.core.dps.files import sdk_credential_files
from certbench.core.dps.rules import registration_id_problem
from certbench.core.errors import InputError, ServiceError
from certbench.core.x509.chain import check_key_matches_certificate, order_chain
from certbench.core.x509.inspect import common_name, display_name, is_self_signed
from certbench.core.x509.keys import PrivateKey
from certbench.core.x509.parse import to_pem

log = logging.getLogger(__name__)

SDK_STAGES_LOGGER = "azure.iot.device.provisioning.pipeline.pipeline_stages_provisioning"
DEFAULT_TIMEOUT = 60.0
SHUTDOWN_WAIT = 5.0

# Outcome reasons
ASSIGNED = "assigned"
MISSING_INTERMEDIATE = "missing-intermediate"
CA_NOT_VERIFIED = "ca-not-verified"
GROUP_DISABLED = "group-disabled"
CN_MISMATCH = "cn-mismatch"
INVALID_REGISTRATION_ID = "invalid-registration-id"
EXPIRED = "expired"
NOT_YET_VALID = "not-yet-valid"
UNREACHABLE = "unreachable"
SERVER_NOT_TRUSTED = "server-not-trusted"
TLS_REFUSED = "tls-refused"
CONNECT_REFUSED = "connect-refused"
THROTTLED = "throttled"
TIMEOUT = "timeout"
SERVICE_ERROR = "service-error"

_HINTS = {
    MISSING_INTERMEDIATE: "Send the device certificate together with its intermediate CA certificate "
                          "(chain file: leaf first, then the intermediate).",
    CA_NOT_VERIFIED: "Verify the intermediate in IoT Central (certbench ca verify NAME), and check that the "
                     "certificate was issued by that intermediate.",
    GROUP_DISABLED: "Enable the enrollment group in IoT Central, then register again.",
    CN_MISMATCH: "Register with the certificate's CN as the registration id, or issue a certificate whose CN "
                 "is the unit's id.",
    INVALID_REGISTRATION_ID: "Use only lowercase letters, digits and '-' in the unit's CN (at most 64 characters).",
    EXPIRED: "Issue a new certificate for the unit; check the bench computer's clock.",
    NOT_YET_VALID: "Check the bench computer's clock, or wait until the certificate becomes valid.",
    UNREACHABLE: "Check the DPS host name and the network (firewall, proxy; port 8883 must be open).",
    SERVER_NOT_TRUSTED: "Check the DPS host name and the CA file trusted for DPS (--ca or dps.ca_file; for the "
                        "emulator, the dps_ca_file it printed).",
    TLS_REFUSED: "Check that the certificate is a client-authentication certificate and the key belongs to it.",
    CONNECT_REFUSED: "Check the ID scope and the registration id.",
    THROTTLED: "DPS is throttling registrations; wait a minute and try again.",
    TIMEOUT: "Try again; if it persists, check the DPS host and the network.",
    SERVICE_ERROR: "Try again later; if it persists, contact the IoT Central administrator.",
}


class RegistrationError(ServiceError):
    """A registration that did not end with the device assigned."""

    def __init__(self, outcome: RegistrationOutcome) -> None:
        super().__init__(outcome.message, outcome.hint)
        self.outcome = outcome


@dataclass(frozen=True)
class RegistrationOutcome:
    ok: bool
    reason: str
    message: str
    registration_id: str
    hint: str | None = None
    device_id: str | None = None
    assigned_hub: str | None = None
    substatus: str | None = None
    operation_id: str | None = None
    status_code: int | None = None
    error_code: int | None = None
    service_message: str | None = None
    elapsed_seconds: float = 0.0
    statuses_seen: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses_seen"] = list(self.statuses_seen)
        return data

    def raise_for_failure(self) -> RegistrationOutcome:
        if not self.ok:
            raise RegistrationError(self)
        return self


# -- listening to the SDK -------------------------------------------------------------------------

_STATUS = re.compile(r"Received response with status code (\d+)")
_BODY = re.compile(r"Response body: (.*)$", re.S)


class _SdkCapture:
    """The status codes and error bodies the SDK logged for one registration."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[dict[str, Any]] = []

    def take(self, text: str) -> None:
        if m := _STATUS.search(text):
            self.statuses.append(int(m.group(1)))
        if m := _BODY.search(text):
            body = _parse_body(m.group(1))
            if body is not None:
                self.bodies.append(body)


class _SdkListener(logging.Filter):
    """Installed on the SDK's provisioning-stage logger while any registration runs: routes
    each record to the capture of its registration id, and drops the debug records it
    asked for so they never reach the application's handlers."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._captures: dict[str, _SdkCapture] = {}
        self._id_locks: dict[str, threading.Lock] = {}
        self._previous_level = logging.NOTSET
        self._keep_from = logging.WARNING

    @contextmanager
    def listen(self, registration_id: str) -> Iterator[_SdkCapture]:
        with self._lock:
            id_lock = self._id_locks.setdefault(registration_id, threading.Lock())
        with id_lock:  # one capture per registration id at a time
            capture = _SdkCapture()
            logger = logging.getLogger(SDK_STAGES_LOGGER)
            with self._lock:
                if not self._captures:
                    self._previous_level = logger.level
                    self._keep_from = logger.getEffectiveLevel()
                    logger.addFilter(self)
                    logger.setLevel(logging.DEBUG)
                self._captures[registration_id] = capture
            try:
                yield capture
            finally:
                with self._lock:
                    del self._captures[registration_id]
                    if not self._captures:
                        logger.removeFilter(self)
                        logger.setLevel(self._previous_level)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted SDK record is not our failure
            return False
        owner = _registration_id_of_caller()
        with self._lock:
            if owner is not None:
                capture = self._captures.get(owner)
            else:  # not attributable (another SDK version): only safe when one registration runs
                capture = next(iter(self._captures.values())) if len(self._captures) == 1 else None
            keep_from = self._keep_from
        if capture is not None:
            capture.take(text)
        return record.levelno >= keep_from


def _registration_id_of_caller() -> str | None:
    """The registration id of the SDK pipeline whose stage is logging: each client has its
    own pipeline, and every stage holds the pipeline's configuration (`nucleus`)."""
    frame = sys._getframe(2)
    for _ in range(12):
        if frame is None:
            return None
        stage = frame.f_locals.get("self")
        nucleus = getattr(stage, "nucleus", None)
        config = getattr(nucleus, "pipeline_configuration", None)
        registration_id = getattr(config, "registration_id", None)
        if isinstance(registration_id, str):
            return registration_id
        frame = frame.f_back
    return None


_listener = _SdkListener()


def _parse_body(text: str) -> dict[str, Any] | None:
    raw: Any = text.strip()
    if raw.startswith(("b'", 'b"')):
        try:
            raw = ast.literal_eval(raw).decode("utf-8", "replace")
        except (ValueError, SyntaxError):
            return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


# -- the call --------------------------------------------------------------------------------------


def register_with_dps(
    chain: Sequence[x509.Certificate],
    key: PrivateKey,
    *,
    registration_id: str | None = None,
    id_scope: str,
    host: str,
    server_ca_pem: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RegistrationOutcome:
    """Register `chain[0]` (its chain as given) with DPS at `host` (port 8883) in `id_scope`.
    `registration_id` defaults to the leaf's CN. `server_ca_pem`: the CA(s) that sign the DPS
    server certificate (default: Azure's roots). Waits at most about `timeout` seconds."""
    if not chain:
        raise InputError("No certificate was given to register.", "Give the device certificate and its chain.")
    if not id_scope or not id_scope.strip():
        raise InputError("The DPS ID scope is empty.", "Set dps.id_scope in the settings or pass --scope.")
    if not host or not host.strip():
        raise InputError("The DPS host is empty.", "Set dps.host in the settings or pass --host.")
    ordered = order_chain(chain)
    leaf = ordered[0]
    check_key_matches_certificate(key, leaf)
    cn = common_name(leaf.subject) or ""
    registration_id = registration_id if registration_id is not None else cn
    if server_ca_pem is None:
        from certbench.core.trust import azure_root_certificates

        server_ca_pem = to_pem(azure_root_certificates())

    from azure.iot.device import ProvisioningDeviceClient, X509

    started = time.monotonic()
    with _listener.listen(registration_id) as capture:
        client = None
        try:
            try:
                with sdk_credential_files(ordered, key) as files:
                    # The SDK reads both files while creating the client; they are gone right after.
                    client = ProvisioningDeviceClient.create_from_x509_certificate(
                        provisioning_host=host.strip(),
                        registration_id=registration_id,
                        id_scope=id_scope.strip(),
                        x509=X509(files.certificate_file, files.key_file, files.passphrase),
                        server_verification_cert=server_ca_pem,
                        # Paho uses the keep-alive as the TLS handshake timeout: bound it too.
                        keep_alive=int(max(5, min(60, timeout))),
                    )
            except ssl.SSLError as exc:
                raise InputError(f"The certificate or key could not be loaded for TLS ({exc.reason or exc}).",
                                 "Check that the key belongs to the certificate.") from None
            result, error = _run_with_timeout(client.register, timeout)
        finally:
            if client is not None:
                _shutdown(client)
    elapsed = time.monotonic() - started
    return _outcome(result, error, ordered, registration_id, capture, elapsed, timeout, host=host, id_scope=id_scope)


class _TimedOut(Exception):
    pass


def _run_with_timeout(call, timeout: float) -> tuple[Any, BaseException | None]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="certbench-dps-register", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return None, _TimedOut()
    return box.get("result"), box.get("error")


def _shutdown(client: Any) -> None:
    """Stop the SDK's pipeline (it stops itself only after a success). Waits at most
    SHUTDOWN_WAIT: the SDK's pipeline thread may still be stuck in a TLS handshake."""
    pipeline = getattr(client, "_pipeline", None)
    if pipeline is None or not getattr(pipeline, "_running", False):
        return

    def stop() -> None:
        try:
            from azure.iot.device.common.evented_callback import EventedCallback

            done = EventedCallback()
            pipeline.shutdown(callback=done)
            done.completion_event.wait(SHUTDOWN_WAIT)
        except Exception:  # noqa: BLE001 - best effort; the pipeline may already be down
            log.debug("DPS client shutdown raised", exc_info=True)

    stopper = threading.Thread(target=stop, name="certbench-dps-shutdown", daemon=True)
    stopper.start()
    stopper.join(SHUTDOWN_WAIT)


# -- explaining the result ------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 12:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _outcome(result: Any, error: BaseException | None, chain: list[x509.Certificate], registration_id: str,
             capture: _SdkCapture, elapsed: float, timeout: float, *, host: str = "DPS",
             id_scope: str = "") -> RegistrationOutcome:
    base: dict[str, Any] = {"registration_id": registration_id, "elapsed_seconds": round(elapsed, 3),
                            "statuses_seen": tuple(capture.statuses)}
    if error is None and result is not None and getattr(result, "status", None) == "assigned":
        state = result.registration_state
        return RegistrationOutcome(
            ok=True, reason=ASSIGNED,
            message=f"'{registration_id}' registered: device '{state.device_id}' assigned to {state.assigned_hub}.",
            device_id=state.device_id, assigned_hub=state.assigned_hub, substatus=state.sub_status,
            operation_id=result.operation_id, status_code=200, **base)

    def fail(reason: str, message: str, **extra: Any) -> RegistrationOutcome:
        return RegistrationOutcome(ok=False, reason=reason, message=message, hint=_HINTS[reason], **base, **extra)

    if error is None:
        status = getattr(result, "status", None)
        return fail(SERVICE_ERROR, f"DPS ended the registration of '{registration_id}' with status '{status}'.")
    if isinstance(error, _TimedOut):
        if capture.statuses and capture.statuses[-1] == 429:
            return fail(THROTTLED, f"DPS kept throttling the registration of '{registration_id}' (429) for "
                                   f"{timeout:g} seconds.", status_code=429)
        return fail(TIMEOUT, f"The registration of '{registration_id}' did not finish within {timeout:g} seconds.")

    causes = _causes(error)
    texts = " ".join(str(c) for c in causes)
    names = {type(c).__name__ for c in causes}
    body = capture.bodies[-1] if capture.bodies else {}
    status = _status_from(texts)
    error_code = body.get("errorCode") if isinstance(body.get("errorCode"), int) else None
    service_message = body.get("message") if isinstance(body.get("message"), str) else None
    said = f" DPS said: {service_message}" if service_message else ""
    detail = {"status_code": status, "error_code": error_code, "service_message": service_message}

    if "invalid registration status disabled" in texts:
        return fail(GROUP_DISABLED, f"DPS accepted the certificate of '{registration_id}' but its enrollment group "
                                    "is disabled, so the device was not assigned.", status_code=200)
    if any(isinstance(c, (ConnectionRefusedError, socket.gaierror)) for c in causes) or (
            "ConnectionFailedError" in names and not any(isinstance(c, ssl.SSLError) for c in causes)):
        return fail(UNREACHABLE, f"DPS could not be reached at {host}:8883 ({_first_os_error(causes)}).")
    if "TlsExchangeAuthError" in names or any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        return fail(SERVER_NOT_TRUSTED, f"The DPS server {host} was not trusted: {_verify_problem(causes)}.")
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return fail(TLS_REFUSED, "DPS refused the TLS connection with this certificate.")
    if "CredentialError" in names or "UnauthorizedError" in names:
        local = _local_reason(chain, registration_id)
        if local is not None:
            return fail(local[0], local[1] + " DPS refused the connection (MQTT CONNACK 5).", **detail)
        return fail(CONNECT_REFUSED, f"DPS refused the MQTT connection (not authorized): the ID scope "
                                     f"'{id_scope}' or the registration id '{registration_id}' is not accepted.",
                    **detail)
    if status is not None and 400 <= status < 500:
        local = _local_reason(chain, registration_id)
        if local is not None:
            return fail(local[0], f"{local[1]} DPS refused it ({status}{_code(error_code)}).{said}", **detail)
        if status == 401:
            return fail(CA_NOT_VERIFIED,
                        f"DPS refused the certificate of '{registration_id}' ({status}{_code(error_code)}): its chain "
                        "does not lead to a CA certificate verified in an enabled enrollment group."
                        f"{said}", **detail)
        return fail(SERVICE_ERROR, f"DPS refused the registration of '{registration_id}' ({status}"
                                   f"{_code(error_code)}).{said}", **detail)
    if "ConnectionDroppedError" in names:
        return fail(UNREACHABLE, "The connection to DPS was lost during the registration.")
    return fail(SERVICE_ERROR, f"The registration of '{registration_id}' failed: {causes[-1]}"
                               f"{f' ({status})' if status else ''}.{said}", **detail)


def _verify_problem(causes: list[BaseException]) -> str:
    """The TLS library's reason, in words: a name mismatch and an unknown CA need different fixes."""
    for c in causes:
        if isinstance(c, ssl.SSLCertVerificationError):
            reason = (c.verify_message or "").lower()
            if "hostname mismatch" in reason or "ip address mismatch" in reason:
                return "its certificate is not issued for this host name"
            if "expired" in reason:
                return "its certificate has expired"
            if reason:
                return f"its certificate does not chain to the CA file trusted for DPS ({c.verify_message})"
    return "its certificate is not trusted, or not issued for this host name"


def _status_from(text: str) -> int | None:
    m = re.search(r"status code (\d{3})", text)
    return int(m.group(1)) if m else None


def _code(error_code: int | None) -> str:
    return f", error {error_code}" if error_code else ""


def _first_os_error(causes: list[BaseException]) -> str:
    for c in causes:
        if isinstance(c, OSError) and not isinstance(c, ssl.SSLError):
            return c.strerror or type(c).__name__
    return "connection failed"


def _local_reason(chain: list[x509.Certificate], registration_id: str,
                  now: dt.datetime | None = None) -> tuple[str, str] | None:
    """What the workstation can tell about a refusal from the chain it sent."""
    now = now or dt.datetime.now(dt.timezone.utc)
    leaf = chain[0]
    cn = common_name(leaf.subject) or ""
    if len(chain) == 1 and not is_self_signed(leaf):
        return (MISSING_INTERMEDIATE,
                f"The chain is missing the intermediate: only the device certificate '{display_name(leaf)}' was "
                f"sent, without the intermediate CA '{common_name(leaf.issuer) or leaf.issuer.rfc4514_string()}' "
                "that issued it.")
    if cn.lower() != registration_id.lower():
        return (CN_MISMATCH, f"The certificate's CN '{cn}' differs from the registration id '{registration_id}'.")
    problem = registration_id_problem(registration_id)
    if problem:
        return (INVALID_REGISTRATION_ID, problem)
    if now > leaf.not_valid_after_utc:
        return (EXPIRED, f"The device certificate '{display_name(leaf)}' expired on "
                         f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")
    if now < leaf.not_valid_before_utc:
        return (NOT_YET_VALID, f"The device certificate '{display_name(leaf)}' is not valid before "
                               f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
    return None
