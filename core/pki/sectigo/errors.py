"""Typed Sectigo failures, built from the `{code, description}` body every SCM error carries.

Sectigo's description is always kept (`.description`, and in the message) so a technician can
quote it to the SCM administrator; the hint adds what to do. An error that concerns an order
carries `.order_id`: the order exists at Sectigo, and the way forward is to collect it again,
never to order a second certificate for the same unit.
"""

from __future__ import annotations

import json

import httpx

from certbench.core.errors import ServiceError
from certbench.core.pki.base import OrderPending

# Collect answers these (with HTTP 400) while a certificate is not ready; which one the
# device endpoint uses is not documented, so all of them mean "ask again later".
PENDING_CODES = frozenset({0, -183, -109, -1400, -195})
INVALID_CSR_CODES = frozenset({-9, -10, -138})
KEY_CODES = frozenset({-11, -13})
FORMAT_CODES = frozenset({-126, -1450})
REVOKED_CODES = frozenset({-110, -192})
AUTH_CODES = frozenset({-16, -970})
NOT_FOUND_CODES = frozenset({-5101, -5109})

_HINTS: dict[int, str] = {
    -9: "Make a new certificate request with the unit's key; do not edit requests.",
    -10: "Make a new certificate request with the unit's key; do not edit requests.",
    -138: "Make a new certificate request with the unit's key; do not edit requests.",
    -11: "Use a key type this intermediate's Sectigo profile allows (see `certbench sectigo profiles`).",
    -13: "Use a key size this intermediate's Sectigo profile allows (see `certbench sectigo profiles`).",
    -36: "Set the intermediate's term_days to a term the profile allows (see `certbench sectigo profiles`).",
    -39: "Check the intermediate's profile_id in Settings against `certbench sectigo profiles`.",
    -5109: "Check the intermediate's profile_id in Settings against `certbench sectigo profiles`.",
    -62: "The Sectigo profile requires a custom field; ask the SCM administrator which one.",
    -110: "The certificate was revoked; issue a new one for the unit.",
    -192: "The certificate was revoked; issue a new one for the unit.",
    -126: "This is a Certbench defect (it asked for a format Sectigo does not know); report it.",
    -1450: "This is a Certbench defect (it asked for a format Sectigo does not know); report it.",
    -5101: "Check the order or serial number; it may belong to another Sectigo account.",
    -16: "Check the Sectigo login, customerUri and password (or client certificate / API client) in Settings.",
    -970: "Check the Sectigo login, customerUri and password (or client certificate / API client) in Settings.",
}


def _collect_hint(order_id: str | None) -> str:
    return (
        f"Nothing is lost: order {order_id} exists at Sectigo. Collect it later with "
        f"`certbench sectigo collect {order_id}` (or resume the unit); do not order again."
        if order_id
        else ""
    )


class SectigoError(ServiceError):
    """Sectigo refused or failed. `code`/`description` are Sectigo's own, when it sent them."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        code: int | None = None,
        description: str | None = None,
        order_id: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code
        self.description = description
        self.order_id = order_id


class SectigoAuthError(SectigoError):
    """Sectigo did not accept the credentials (HTTP 401/403, or the OAuth2 token endpoint)."""


class SectigoRequestRefused(SectigoError):
    """A validation error (HTTP 400): CSR, key type, term, profile, organisation..."""


class SectigoNotFound(SectigoError):
    """The order, certificate or profile does not exist in this account (never "pending")."""


class SectigoUnavailable(SectigoError):
    """No usable answer after the retries: timeouts, dropped connections, 429, 5xx."""


class SectigoResponseError(SectigoError):
    """Sectigo answered, but not in the form the API documents."""


class SectigoRevoked(SectigoError):
    """The certificate of this order was revoked: it cannot be collected."""


class CertificateNotReady(SectigoError):
    """Collect said "not yet" (HTTP 400 with a pending code). Handled by polling."""


class OrderDeclined(SectigoError):
    """An administrator declined the order (or Sectigo rejected it)."""


class CertificateRejected(SectigoError):
    """Sectigo issued a certificate that Certbench refuses to use (wrong CN, issuer, key, EKU)."""


class CollectTimeout(SectigoError, OrderPending):
    """The order was still not issued when the poll limit ran out. The order stays valid."""

    def __init__(self, order_id: str, *, waited: float, awaiting_approval: bool, status: str | None = None) -> None:
        if awaiting_approval:
            message = (
                f"Sectigo order {order_id} is awaiting approval by an SCM administrator "
                f"(still not approved after {waited:.0f} s)."
            )
            hint = "Ask the SCM administrator to approve it. " + _collect_hint(order_id)
        else:
            message = f"Sectigo has not issued order {order_id} yet (waited {waited:.0f} s)."
            hint = _collect_hint(order_id)
        SectigoError.__init__(self, message, hint, order_id=order_id)
        self.reason = "awaiting approval" if awaiting_approval else "being processed"
        self.awaiting_approval = awaiting_approval
        self.waited = waited
        self.order_status = status


def parse_error_body(response: httpx.Response) -> tuple[int | None, str | None]:
    """(code, description) from an SCM error body; (None, None) when it has another form."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("code")
    description = body.get("description")
    if isinstance(code, bool) or not isinstance(code, int):
        try:
            code = int(str(code)) if code is not None else None
        except ValueError:
            code = None
    return code, (str(description) if description is not None else None)


def _snippet(response: httpx.Response) -> str:
    text = response.content[:160].decode("utf-8", "replace")
    return " ".join(text.split())


def error_from_response(response: httpx.Response, *, what: str, order_id: str | None = None) -> SectigoError:
    """The typed error for a failed SCM call; `what` names the call for the message."""
    status = response.status_code
    code, description = parse_error_body(response)
    said = f"Sectigo said: {description} (code {code})" if description is not None else (
        f"Sectigo answered HTTP {status} without an error description" + (f": '{_snippet(response)}'" if response.content else "")
    )
    kwargs = dict(status=status, code=code, description=description, order_id=order_id)
    resume = _collect_hint(order_id)
    if status in (401, 403):
        return SectigoAuthError(
            f"Sectigo refused the credentials while trying to {what} (HTTP {status}). {said}.",
            _HINTS.get(code or 0, _HINTS[-970]),
            **kwargs,
        )
    if status == 404 or code in NOT_FOUND_CODES:
        return SectigoNotFound(f"Could not {what}: not found at Sectigo. {said}.",
                               _HINTS.get(code or 0, "Check the number and the Sectigo account in Settings."), **kwargs)
    if status == 429 or status >= 500:
        return SectigoUnavailable(
            f"Sectigo is not available: could not {what} (HTTP {status}, after retries). {said}.",
            ("Try again in a few minutes. " + resume).strip(),
            **kwargs,
        )
    if status == 400 and code in PENDING_CODES:
        return CertificateNotReady(f"Sectigo order {order_id} is not ready yet. {said}.", resume or None, **kwargs)
    if code in REVOKED_CODES:
        return SectigoRevoked(f"Could not {what}: the certificate was revoked. {said}.", _HINTS[code], **kwargs)
    if code in FORMAT_CODES:
        return SectigoResponseError(f"Could not {what}: {said}.", _HINTS[code], **kwargs)
    return SectigoRequestRefused(
        f"Sectigo refused to {what}. {said}.",
        _HINTS.get(code or 0, "Correct the request named above; ask the SCM administrator if it should be allowed."),
        **kwargs,
    )
