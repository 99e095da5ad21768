"""A thin client for SCM's device-certificate API (`/api/device/v1`), over httpx.

Every call has a timeout; transient failures (timeouts, dropped connections, 429, 5xx) are
retried with backoff by `core.http.send_with_retry`. Enrolling is not idempotent: it is only
retried when the request surely never reached Sectigo, because a blind retry after a read
timeout could place a second order for the unit. Every error becomes a typed `SectigoError`
that keeps Sectigo's `{code, description}`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from certbench.core.http import RetryPolicy, make_client, send_with_retry
from certbench.core.pki.sectigo.auth import Auth, auth_from_settings
from certbench.core.pki.sectigo.errors import (
    SectigoError,
    SectigoResponseError,
    SectigoUnavailable,
    error_from_response,
)
from certbench.core.pki.sectigo.formats import FORMATS

API = "/api/device/v1"
REVOCATION_REASONS = {"unspecified": 0, "keyCompromise": 1, "affiliationChanged": 3, "superseded": 4,
                      "cessationOfOperation": 5}


def normalize_status(status: str | None) -> str:
    """SCM writes statuses in different cases per endpoint ("APPROVED", "Issued")."""
    return (status or "").strip().upper()


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    description: str = ""
    terms: tuple[int, ...] = ()
    key_types: dict[str, list[str]] = field(default_factory=dict)
    eku: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        terms = data.get("terms") or ([data["term"]] if data.get("term") else [])
        return cls(
            id=int(data["id"]),
            name=str(data.get("name", "")),
            description=str(data.get("description") or ""),
            terms=tuple(int(t) for t in terms),
            key_types={str(k): [str(s) for s in v] for k, v in (data.get("keyTypes") or {}).items()},
            eku=tuple(str(e) for e in data.get("eku") or ()),
            raw=data,
        )


@dataclass(frozen=True)
class EnrollResult:
    order_id: str
    status: str  # upper case

    @property
    def awaiting_approval(self) -> bool:
        return self.status == "REQUESTED"


@dataclass(frozen=True)
class OrderDetails:
    order_id: str
    status: str  # upper case, whatever the endpoint wrote
    common_name: str | None
    cert_type_id: int | None
    org_id: int | None
    term: int | None
    serial_number: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderDetails:
        cert_type = data.get("certType")
        cert_type_id = cert_type.get("id") if isinstance(cert_type, dict) else cert_type
        return cls(
            order_id=str(data.get("id", data.get("deviceCertId", ""))),
            status=normalize_status(data.get("status")),
            common_name=data.get("commonName"),
            cert_type_id=int(cert_type_id) if cert_type_id is not None else None,
            org_id=data.get("orgId"),
            term=data.get("term"),
            serial_number=data.get("serialNumber"),
            raw=data,
        )


class SectigoClient:
    """One SCM account. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        timeout: float = 30.0,
        ca_file: str | Path | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, str, float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry
        self._http = make_client(
            self.base_url,
            timeout=timeout,
            ca_file=ca_file,
            ssl_context=auth.ssl_context(ca_file),
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, settings, **kwargs) -> SectigoClient:  # settings: SectigoSettings
        return cls(
            settings.base_url,
            auth_from_settings(settings),
            timeout=settings.timeout_seconds,
            ca_file=settings.ca_file or None,
            **kwargs,
        )

    def close(self) -> None:
        self._http.close()
        self.auth.close()

    def __enter__(self) -> SectigoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.auth.path_prefix}{API}{path}"

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        order_id: str | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        for attempt in (1, 2):
            headers = self.auth.headers()
            if json is not None:
                headers["Content-Type"] = "application/json;charset=utf-8"
            request = self._http.build_request(
                method,
                self._url(path),
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=headers,
            )
            try:
                response = send_with_retry(
                    self._http, request, policy=self.retry, idempotent=idempotent, sleep=self._sleep,
                    on_retry=self._on_retry,
                )
            except httpx.TransportError as exc:
                raise self._transport_error(exc, what=what, idempotent=idempotent, order_id=order_id) from None
            if response.status_code == 401 and attempt == 1 and self.auth.invalidate():
                continue  # a token that expired early: one fresh try
            if response.status_code in ok:
                return response
            error = error_from_response(response, what=what, order_id=order_id)
            if not idempotent and response.status_code >= 500:
                error.hint = ("Sectigo failed while handling the order, so it may or may not have been placed. "
                              "Before ordering again for this unit, look for its order: "
                              "`certbench sectigo list --cn <CN>`.")
            raise error
        raise AssertionError("unreachable")

    def _transport_error(self, exc: httpx.TransportError, *, what: str, idempotent: bool, order_id: str | None):
        kind = type(exc).__name__
        if not idempotent and not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return SectigoUnavailable(
                f"Sectigo did not answer while trying to {what} ({kind}); the order may or may not have been placed.",
                "Before ordering again for this unit, look for its order: `certbench sectigo list --cn <CN>`.",
            )
        return SectigoUnavailable(
            f"Sectigo did not answer while trying to {what} ({kind}, after retries).",
            "Check the network connection and [sectigo] base_url; try again in a few minutes."
            + (f" Order {order_id} is kept: collect it later." if order_id else ""),
            order_id=order_id,
        )

    def _json(self, response: httpx.Response, *, what: str, order_id: str | None = None) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SectigoResponseError(
                f"Sectigo's answer to '{what}' is not JSON (Content-Type {response.headers.get('content-type', 'none')}).",
                "Check [sectigo] base_url: it must be the SCM API host (a proxy or login page may be in the way).",
                status=response.status_code,
                order_id=order_id,
            ) from None

    # -- API -------------------------------------------------------------------------------
    def profiles(self, org_id: int | None = None) -> list[Profile]:
        what = "list the device certificate profiles"
        data = self._json(self._call("GET", "/types", what=what, params={"organizationId": org_id}), what=what)
        if not isinstance(data, list):
            raise SectigoResponseError(f"Sectigo's answer to '{what}' is not a list.")
        try:
            return [Profile.from_json(item) for item in data]
        except (KeyError, TypeError, ValueError):
            raise SectigoResponseError(f"Sectigo's answer to '{what}' has profiles without an id.") from None

    def custom_fields(self) -> list[dict[str, Any]]:
        what = "list the custom fields"
        return self._json(self._call("GET", "/customFields", what=what), what=what)

    def enroll(
        self,
        *,
        org_id: int,
        cert_type: int,
        csr_pem: str,
        term: int | None = None,
        comments: str = "",
        custom_fields: list[dict[str, str]] | None = None,
        optional_fields: list[dict[str, str]] | None = None,
    ) -> EnrollResult:
        what = f"order a certificate on profile {cert_type}"
        body: dict[str, Any] = {"orgId": org_id, "csr": csr_pem, "certType": cert_type}
        if term is not None:
            body["term"] = term
        if comments:
            body["comments"] = comments[:1024]
        if custom_fields:
            body["customFields"] = custom_fields
        if optional_fields:
            body["optionalFields"] = optional_fields
        response = self._call("POST", "/enroll", what=what, json=body, idempotent=False)
        data = self._json(response, what=what)
        cert_id = data.get("deviceCertId") if isinstance(data, dict) else None
        if cert_id is None:
            raise SectigoResponseError(
                "Sectigo accepted the order but its answer has no deviceCertId.",
                "Look for the order in SCM before ordering again for this unit.",
            )
        return EnrollResult(str(cert_id), normalize_status(data.get("status")))

    def collect(self, order_id: str, fmt: str) -> bytes:
        """The raw body for `fmt`. A not-yet-issued order raises `CertificateNotReady`."""
        if fmt not in FORMATS:
            raise ValueError(f"unknown collect format {fmt!r}")
        response = self._call(
            "GET", f"/collect/{order_id}", what=f"collect order {order_id}", params={"format": fmt}, order_id=order_id
        )
        return response.content

    def details(self, order_id: str) -> OrderDetails:
        what = f"read order {order_id}"
        data = self._json(self._call("GET", f"/{order_id}", what=what, order_id=order_id), what=what, order_id=order_id)
        if not isinstance(data, dict):
            raise SectigoResponseError(f"Sectigo's answer to '{what}' is not an object.", order_id=order_id)
        return OrderDetails.from_json(data)

    def list_orders(
        self,
        *,
        size: int = 50,
        position: int = 0,
        common_name: str | None = None,
        status: str | None = None,
        cert_type_id: int | None = None,
    ) -> tuple[list[OrderDetails], int]:
        what = "list orders"
        params = {"size": size, "position": position, "commonName": common_name, "status": status,
                  "certTypeId": cert_type_id}
        response = self._call("GET", "", what=what, params=params)
        data = self._json(response, what=what)
        if not isinstance(data, list):
            raise SectigoResponseError(f"Sectigo's answer to '{what}' is not a list.")
        try:
            total = int(response.headers.get("X-Total-Count", len(data)))
        except ValueError:
            total = len(data)
        return [OrderDetails.from_json(item) for item in data], total

    def approve(self, order_id: str, message: str = "") -> None:
        self._call("POST", f"/approve/{order_id}", what=f"approve order {order_id}", json={"message": message},
                   order_id=order_id, ok=(200, 204))

    def decline(self, order_id: str, message: str = "") -> None:
        self._call("POST", f"/decline/{order_id}", what=f"decline order {order_id}", json={"message": message},
                   order_id=order_id, ok=(200, 204))

    def revoke_order(self, order_id: str, *, reason_code: int = 4, reason: str = "") -> None:
        self._call("POST", f"/revoke/order/{order_id}", what=f"revoke order {order_id}",
                   json={"reasonCode": _check_reason(reason_code), "reason": reason}, order_id=order_id, ok=(200, 204))

    def revoke_serial(self, serial: str, *, reason_code: int = 4, reason: str = "") -> None:
        serial = serial.replace(":", "").strip()
        self._call("POST", f"/revoke/serial/{serial}", what=f"revoke certificate serial {serial}",
                   json={"reasonCode": _check_reason(reason_code), "reason": reason}, ok=(200, 204))


def _check_reason(code: int) -> int:
    if code not in REVOCATION_REASONS.values():
        from certbench.core.errors import InputError

        raise InputError(
            f"Revocation reason code {code} is not one Sectigo accepts.",
            "Use 0 unspecified, 1 keyCompromise, 3 affiliationChanged, 4 superseded, 5 cessationOfOperation.",
        )
    return code


__all__ = ["EnrollResult", "OrderDetails", "Profile", "SectigoClient", "SectigoError", "normalize_status"]
