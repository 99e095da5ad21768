"""The IoT Central REST client: enrollment groups, their certificate entries (proof of
possession) and devices, over `certbench.core.http` (timeouts, TLS, retries).

Every request carries `api-version=2022-07-31` and the Authorization header; certificates
travel as base64 of their PEM text. Which calls are idempotent decides what is retried
after a 5xx or a dropped connection (see `certbench.core.http`): `verify` is not (a second
try of a verify that went through would only confuse), the rest are.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from certbench.core.errors import ConfigError, InputError
from certbench.core.http import RetryPolicy, make_client, send_with_retry
from certbench.core.iotcentral.auth import ApiCredential
from certbench.core.iotcentral.errors import (
    IoTCentralError,
    IoTCentralNotFound,
    error_from_response,
    error_from_transport,
)
from certbench.core.iotcentral.models import CertificateEntry, Device, EnrollmentGroup
from certbench.core.x509.parse import to_base64_pem

API_VERSION = "2022-07-31"
ENTRIES = ("primary", "secondary")
GROUP_ID_PATTERN = re.compile(r"^[a-zA-Z0-9-]{1,255}$")
# IoT Central device ids: letters, digits and '-'; DPS caps X.509 registration ids at 128.
DEVICE_ID_PATTERN = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
GROUP_TYPES = ("iot", "iotEdge")
MAX_PAGES = 10_000  # a nextLink loop is a service bug; never spin forever on it

log = logging.getLogger("certbench.iotcentral")


def check_group_id(group_id: str) -> str:
    if not isinstance(group_id, str) or not GROUP_ID_PATTERN.match(group_id):
        raise InputError(
            f"'{group_id}' is not a valid enrollment group id.",
            "Use 1 to 255 letters, digits and hyphens (no spaces, dots or underscores), e.g. medicorp-devices-1.",
        )
    return group_id


def check_entry(entry: str) -> str:
    if entry not in ENTRIES:
        raise InputError(
            f"'{entry}' is not a certificate entry of an enrollment group.",
            "An enrollment group holds two X.509 certificates: use primary or secondary.",
        )
    return entry


def check_device_id(device_id: str) -> str:
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.match(device_id):
        raise InputError(
            f"'{device_id}' is not a valid IoT Central device id.",
            "Use 1 to 128 letters, digits and hyphens.",
        )
    return device_id


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    loopback = parts.hostname in ("localhost", "::1") or (parts.hostname or "").startswith("127.")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"'{base_url}' is not an IoT Central application URL.",
            "Set [iotcentral] subdomain, or base_url like https://myapp.azureiotcentral.com.",
        )
    if parts.scheme == "http" and not loopback:
        raise ConfigError(
            f"The IoT Central URL '{base_url}' is not HTTPS; the API token would travel in clear.",
            "Use the https:// address of the application.",
        )
    return base_url.rstrip("/")


class IoTCentralClient:
    """One IoT Central application. Use as a context manager (or call `close()`)."""

    def __init__(
        self,
        base_url: str,
        credential: ApiCredential,
        *,
        timeout: float = 30.0,
        ca_file: str | Path | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[int, str, float], None] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self._credential = credential
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._on_retry = on_retry
        self._http = http_client or make_client(self.base_url, timeout=timeout, ca_file=ca_file)
        self._host = urlsplit(self.base_url).netloc

    @classmethod
    def from_settings(cls, settings: Any, credential: ApiCredential | None = None, **kwargs: Any) -> IoTCentralClient:
        """`settings` is a `certbench.core.config.IoTCentralSettings`; the token comes from the
        OS keyring unless `credential` is given."""
        credential = credential or ApiCredential.from_keyring(settings.auth)
        return cls(
            settings.resolved_base_url(),
            credential,
            timeout=settings.timeout_seconds,
            ca_file=settings.ca_file or None,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"IoTCentralClient({self.base_url!r}, {self._credential!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> IoTCentralClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -----------------------------------------------------------------------
    def _url(self, path_or_url: str) -> httpx.URL:
        if path_or_url.startswith(("http://", "https://")):
            url = httpx.URL(path_or_url)
            # A nextLink pointing elsewhere would receive the token: refuse it.
            base = urlsplit(self.base_url)
            if (url.scheme, url.netloc.decode("ascii")) != (base.scheme, base.netloc):
                raise IoTCentralError(
                    f"IoT Central returned a next-page link to another host ({url.host}); it was not followed.",
                    "Check the application URL in Settings.",
                )
        else:
            url = httpx.URL(self.base_url + path_or_url)
        if "api-version" not in url.params:
            url = url.copy_merge_params({"api-version": API_VERSION})
        return url

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> tuple[httpx.Response, int]:
        url = self._url(path)
        if params:
            url = url.copy_merge_params(params)
        request_headers = {
            "Authorization": self._credential.header(),
            "x-ms-client-request-id": str(uuid.uuid4()),
            "Accept": "application/json",
            **(headers or {}),
        }
        request = self._http.build_request(method, url, json=body, headers=request_headers)
        attempts = 1

        def on_retry(attempt: int, reason: str, wait: float) -> None:
            nonlocal attempts
            attempts = attempt + 1
            log.info("IoT Central %s %s: %s, retry %d in %.2fs", method, url.path, reason, attempt, wait)
            if self._on_retry:
                self._on_retry(attempt, reason, wait)

        try:
            response = send_with_retry(
                self._http, request, policy=self._retry, idempotent=idempotent, sleep=self._sleep, on_retry=on_retry
            )
        except httpx.TransportError as exc:
            # Info, not warning: the typed error raised below is what reaches the person.
            log.info("IoT Central %s %s failed: %s", method, url.path, type(exc).__name__)
            raise error_from_transport(exc, what, self._host) from None
        log.debug("IoT Central %s %s -> %d", method, url.path, response.status_code)
        if response.status_code >= 400:
            error = error_from_response(response, what, attempts=attempts)
            error.attempts = attempts
            raise error from None
        return response, attempts

    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        response, _ = self._call(method, path, what, **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise IoTCentralError(
                f"IoT Central answered {what} with something that is not a JSON object (HTTP {response.status_code}).",
                "Check that the application URL points at IoT Central, not at a proxy or login page.",
            )
        return data

    def _delete(self, path: str, what: str) -> None:
        try:
            self._call("DELETE", path, what)
        except IoTCentralNotFound as exc:
            # A retried DELETE whose first try went through finds nothing: that is success.
            if exc.attempts <= 1:
                raise

    def _pages(self, path: str, what: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        link: str | None = path
        seen: set[str] = set()
        first = True
        while link:
            if link in seen or len(seen) >= MAX_PAGES:
                raise IoTCentralError(f"IoT Central's paging of {what} loops; listing stopped.", "Retry later.")
            seen.add(link)
            page = self._json("GET", link, what, params=params if first else None)
            first = False
            for item in page.get("value") or []:
                if isinstance(item, dict):
                    yield item
            link = page.get("nextLink")

    # -- enrollment groups ----------------------------------------------------------------
    def iter_groups(self) -> Iterator[EnrollmentGroup]:
        for item in self._pages("/api/enrollmentGroups", "the list of enrollment groups"):
            yield EnrollmentGroup.from_json(item)

    def list_groups(self) -> list[EnrollmentGroup]:
        return list(self.iter_groups())

    def get_group(self, group_id: str) -> EnrollmentGroup:
        check_group_id(group_id)
        return EnrollmentGroup.from_json(self._json("GET", f"/api/enrollmentGroups/{group_id}", f"enrollment group '{group_id}'"))

    def find_group(self, group_id: str) -> EnrollmentGroup | None:
        try:
            return self.get_group(group_id)
        except IoTCentralNotFound:
            return None

    def create_group(
        self, group_id: str, display_name: str, *, type: str = "iot", enabled: bool = True  # noqa: A002 - the API's name
    ) -> EnrollmentGroup:
        check_group_id(group_id)
        if not display_name or not display_name.strip():
            raise InputError("An enrollment group needs a display name.", "Give one with --name.")
        if type not in GROUP_TYPES:
            raise InputError(f"'{type}' is not an enrollment group type.", "Use iot or iotEdge.")
        body = {"displayName": display_name, "enabled": enabled, "type": type, "attestation": {"type": "x509"}}
        return EnrollmentGroup.from_json(
            self._json("PUT", f"/api/enrollmentGroups/{group_id}", f"enrollment group '{group_id}'", body=body)
        )

    def update_group(self, group_id: str, changes: dict[str, Any], *, etag: str | None = None) -> EnrollmentGroup:
        """Merge-patch `changes` (API field names: displayName, enabled, type). With `etag`,
        the change applies only if nobody changed the group since it was read (else 412)."""
        check_group_id(group_id)
        headers = {"If-Match": etag} if etag else None
        data = self._json(
            "PATCH",
            f"/api/enrollmentGroups/{group_id}",
            f"enrollment group '{group_id}'",
            body=changes,
            headers=headers,
            # Without If-Match a merge patch is idempotent; with it a retry of an applied
            # patch would fail with 412 and hide the success.
            idempotent=etag is None,
        )
        return EnrollmentGroup.from_json(data)

    def delete_group(self, group_id: str) -> None:
        check_group_id(group_id)
        self._delete(f"/api/enrollmentGroups/{group_id}", f"enrollment group '{group_id}'")

    # -- certificate entries ---------------------------------------------------------------
    @staticmethod
    def _cert_path(group_id: str, entry: str) -> str:
        return f"/api/enrollmentGroups/{check_group_id(group_id)}/certificates/{check_entry(entry)}"

    @staticmethod
    def _cert_what(group_id: str, entry: str) -> str:
        return f"{entry} certificate in enrollment group '{group_id}'"

    def set_certificate(
        self, group_id: str, entry: str, certificate: x509.Certificate, *, verified: bool = False
    ) -> CertificateEntry:
        """Upload `certificate` into the entry. `verified=True` self-attests (skips proof of
        possession); Certbench always proves possession instead."""
        body = {"verified": verified, "certificate": to_base64_pem(certificate)}
        data = self._json("PUT", self._cert_path(group_id, entry), self._cert_what(group_id, entry), body=body)
        return CertificateEntry.from_json(entry, data)

    def get_certificate(self, group_id: str, entry: str) -> CertificateEntry:
        data = self._json("GET", self._cert_path(group_id, entry), self._cert_what(group_id, entry))
        return CertificateEntry.from_json(entry, data)

    def find_certificate(self, group_id: str, entry: str) -> CertificateEntry | None:
        """The entry, or None when it holds no certificate (the group must exist)."""
        try:
            return self.get_certificate(group_id, entry)
        except IoTCentralNotFound:
            self.get_group(group_id)  # raises its own 404 when the group is what is missing
            return None

    def remove_certificate(self, group_id: str, entry: str) -> None:
        self._delete(self._cert_path(group_id, entry), self._cert_what(group_id, entry))

    def generate_verification_code(self, group_id: str, entry: str) -> str:
        # Idempotent enough to retry: each call supersedes the previous code, and the code
        # in the answer we receive is the current one.
        data = self._json(
            "POST",
            self._cert_path(group_id, entry) + "/generateVerificationCode",
            f"a verification code for the {self._cert_what(group_id, entry)}",
        )
        code = data.get("verificationCode")
        if not isinstance(code, str) or not code:
            raise IoTCentralError(
                "IoT Central answered without a verification code.", "Retry; if it persists, report it with the request id."
            )
        return code

    def verify_certificate(self, group_id: str, entry: str, verification_certificate: x509.Certificate) -> None:
        """Proof of possession: upload the certificate whose CN is the verification code,
        signed by the entry's CA key. Not retried after it may have reached the service."""
        self._call(
            "POST",
            self._cert_path(group_id, entry) + "/verify",
            f"verification of the {self._cert_what(group_id, entry)}",
            body={"certificate": to_base64_pem(verification_certificate)},
            idempotent=False,
        )

    # -- devices ----------------------------------------------------------------------------
    def get_device(self, device_id: str) -> Device:
        check_device_id(device_id)
        return Device.from_json(self._json("GET", f"/api/devices/{device_id}", f"device '{device_id}'"))

    def find_device(self, device_id: str) -> Device | None:
        try:
            return self.get_device(device_id)
        except IoTCentralNotFound:
            return None

    def iter_devices(self, *, page_size: int | None = None) -> Iterator[Device]:
        if page_size is not None and not 1 <= page_size <= 100:
            raise InputError(f"A page size of {page_size} is out of range.", "Use 1 to 100.")
        params = {"maxpagesize": page_size} if page_size else None
        for item in self._pages("/api/devices", "the list of devices", params):
            yield Device.from_json(item)

    def list_devices(self, *, page_size: int | None = None) -> list[Device]:
        return list(self.iter_devices(page_size=page_size))

    def create_device(
        self,
        device_id: str,
        *,
        display_name: str | None = None,
        template: str | None = None,
        simulated: bool = False,
        enabled: bool = True,
    ) -> Device:
        check_device_id(device_id)
        body: dict[str, Any] = {"displayName": display_name or device_id, "simulated": simulated, "enabled": enabled}
        if template:
            body["template"] = template
        return Device.from_json(self._json("PUT", f"/api/devices/{device_id}", f"device '{device_id}'", body=body))

    def update_device(self, device_id: str, changes: dict[str, Any], *, etag: str | None = None) -> Device:
        check_device_id(device_id)
        data = self._json(
            "PATCH",
            f"/api/devices/{device_id}",
            f"device '{device_id}'",
            body=changes,
            headers={"If-Match": etag} if etag else None,
            idempotent=etag is None,
        )
        return Device.from_json(data)

    def delete_device(self, device_id: str) -> None:
        check_device_id(device_id)
        self._delete(f"/api/devices/{device_id}", f"device '{device_id}'")
