"""Typed IoT Central failures. Each carries what the service said (status, code, message,
requestId, for support tickets) and a sentence a technician can act on.

Nothing here ever holds a request's headers: the Authorization header (the API token)
must not reach an exception, a log or the audit trail.
"""

from __future__ import annotations

from typing import Any

import httpx

from certbench.core.errors import ServiceError
from certbench.core.secrets import redact

_TOKEN_HINT = (
    "Create a new API token in IoT Central (Permissions > API tokens, role App Administrator) "
    "and save it with: certbench config set-secret iotcentral-api-token"
)


class IoTCentralError(ServiceError):
    """IoT Central refused or failed a request."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        service_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(redact(message), redact(hint) if hint else hint)
        self.status = status
        self.code = code
        self.service_message = service_message
        self.request_id = request_id
        self.attempts = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "service_message": self.service_message,
            "request_id": self.request_id,
            "hint": self.hint,
        }


class IoTCentralAuthError(IoTCentralError):
    """401: the token is wrong, malformed or expired."""


class IoTCentralPermissionDenied(IoTCentralError):
    """403: the token is valid but its role may not do this."""


class IoTCentralNotFound(IoTCentralError):
    """404: no such group, certificate entry or device."""


class IoTCentralPreconditionFailed(IoTCentralError):
    """412: the resource changed since it was read (etag mismatch)."""


class IoTCentralInvalidRequest(IoTCentralError):
    """400 / 422 (and other 4xx): the service refused the request as invalid."""


class IoTCentralThrottled(IoTCentralError):
    """429 that outlasted every retry."""


class IoTCentralServerError(IoTCentralError):
    """5xx that outlasted every retry (or a non-idempotent call that failed once)."""


class IoTCentralConnectionError(IoTCentralError):
    """The request did not complete at the transport level (timeout, dropped connection, TLS)."""


def _service_error(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    code = message = None
    request_id = response.headers.get("x-ms-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else None
        request_id = error.get("requestId") or request_id
    code = code or response.headers.get("x-ms-error-code")
    return code, message, request_id


def error_from_response(response: httpx.Response, what: str, *, attempts: int = 1) -> IoTCentralError:
    """The typed error for a failed `response`; `what` names the operation in words
    ("enrollment group 'medicorp-devices-1'")."""
    status = response.status_code
    code, service_message, request_id = _service_error(response)
    said = f" IoT Central said: {service_message}" if service_message else ""
    ref = f" (request id {request_id})" if request_id else ""
    kwargs = dict(status=status, code=code, service_message=service_message, request_id=request_id)
    if status == 401:
        return IoTCentralAuthError(
            f"IoT Central refused the API token while reading or changing {what}: the token is wrong or has expired.{ref}",
            _TOKEN_HINT,
            **kwargs,
        )
    if status == 403:
        return IoTCentralPermissionDenied(
            f"The API token's role lacks permission for {what}.{said}{ref}",
            "Use a token whose role may manage device connection groups (App Administrator), "
            "or ask the application's administrator to grant it.",
            **kwargs,
        )
    if status == 404:
        return IoTCentralNotFound(
            f"IoT Central has no {what}.{said}{ref}",
            "Check the name (ids are case-sensitive), or create it first.",
            **kwargs,
        )
    if status == 412:
        return IoTCentralPreconditionFailed(
            f"Someone changed {what} meanwhile, so the change was not applied.{ref}",
            "Reload it and make the change again.",
            **kwargs,
        )
    if status == 429:
        return IoTCentralThrottled(
            f"IoT Central is throttling requests (HTTP 429) and still was after {attempts} tries on {what}.{ref}",
            "Wait a minute and retry; other tools using the same application count against its limit of 20 requests per second.",
            **kwargs,
        )
    if status >= 500:
        return IoTCentralServerError(
            f"IoT Central failed with an internal error (HTTP {status}) on {what}"
            f"{f' after {attempts} tries' if attempts > 1 else ''}.{said}{ref}",
            "This is on the service's side; retry in a few minutes, and check https://status.azure.com if it persists.",
            **kwargs,
        )
    if status in (400, 422):
        return IoTCentralInvalidRequest(
            f"IoT Central rejected the request for {what} as invalid (HTTP {status}).{said}{ref}",
            "Correct the input named above and retry; nothing was changed.",
            **kwargs,
        )
    return IoTCentralInvalidRequest(
        f"IoT Central refused the request for {what} (HTTP {status}).{said}{ref}",
        "Check the input and the application's settings, then retry.",
        **kwargs,
    )


def error_from_transport(exc: httpx.TransportError, what: str, host: str) -> IoTCentralConnectionError:
    reason = type(exc).__name__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return IoTCentralConnectionError(
            f"The TLS certificate of {host} is not trusted, so {what} was not contacted.",
            "For a real application check the system's certificate store and any proxy; for the "
            "emulator set [iotcentral] ca_file to the CA file it printed.",
        )
    if isinstance(exc, httpx.TimeoutException):
        return IoTCentralConnectionError(
            f"IoT Central at {host} did not answer in time ({reason}) on {what}.",
            "Check the network connection and retry; a partly done step is picked up again on retry.",
        )
    return IoTCentralConnectionError(
        f"The connection to IoT Central at {host} failed ({reason}) on {what}.",
        "Check the network connection and the application URL in Settings, then retry; "
        "a partly done step is picked up again on retry.",
    )
