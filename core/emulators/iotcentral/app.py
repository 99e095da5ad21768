"""The IoT Central emulator's HTTP face: the data-plane paths of api-version 2022-07-31
for enrollment groups, their certificates and devices, with the service's validation and
its error body `{"error": {"code", "message", "requestId", "time"}}` + `x-ms-error-code`.

Choices where the contract says "unverified" (documented in docs/iotcentral.md): PUT on an
existing group or device replaces its settings; a new verification code replaces the old
one; certificates are accepted only as base64 of PEM text.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, unquote

from certbench.core.emulators.httpserver import EmulatorApp, HttpError, Request, Response
from certbench.core.emulators.iotcentral.state import ENTRIES, IoTCentralState, Refusal

API_VERSION = "2022-07-31"
GROUP_ID = re.compile(r"^[a-zA-Z0-9-]{1,255}$")
DEVICE_ID = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
_GROUP_TYPES = ("iot", "iotEdge")
_ATTESTATIONS = ("x509", "symmetricKey")
_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
          412: "PreconditionFailed", 422: "InvalidBody", 429: "TooManyRequests", 500: "InternalServerError",
          503: "ServiceUnavailable"}

_SEG = r"(?P<{}>[^/]*)"


def _fail(status: int, code: str, message: str) -> Refusal:
    return Refusal(status, code, message)


class IoTCentralApp(EmulatorApp):
    def __init__(self, state: IoTCentralState | None = None) -> None:
        super().__init__()
        self.state = state or IoTCentralState()
        # Requests per second before 429 (the service allows 20); None = no throttling.
        self.rate_limit: float | None = None
        self._window: list[float] = []
        self._window_lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (method, path) of every routed request
        groups = r"/api/enrollmentGroups"
        group = groups + "/" + _SEG.format("group")
        cert = group + "/certificates/" + _SEG.format("entry")
        devices = r"/api/devices"
        device = devices + "/" + _SEG.format("device")
        self.route("GET", groups, self.list_groups)
        self.route("GET", group, self.get_group)
        self.route("PUT", group, self.put_group)
        self.route("PATCH", group, self.patch_group)
        self.route("DELETE", group, self.delete_group)
        self.route("GET", cert, self.get_certificate)
        self.route("PUT", cert, self.set_certificate)
        self.route("DELETE", cert, self.remove_certificate)
        self.route("POST", cert + "/generateVerificationCode", self.generate_code)
        self.route("POST", cert + "/verify", self.verify)
        self.route("GET", devices, self.list_devices)
        self.route("GET", device, self.get_device)
        self.route("PUT", device, self.put_device)
        self.route("PATCH", device, self.patch_device)
        self.route("DELETE", device, self.delete_device)

    # -- the service's error format ----------------------------------------------------------
    def error(self, status: int, message: str, code: str | None = None) -> Response:  # type: ignore[override]
        code = code or _CODES.get(status, "Error")
        request_id = str(uuid.uuid4())
        now = dt.datetime.now(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        body = {"error": {"code": code, "message": message, "requestId": request_id, "time": now}}
        return Response(status, body, headers={"x-ms-error-code": code, "x-ms-request-id": request_id})

    def dispatch(self, request: Request) -> Response:
        try:
            response = super().dispatch(request)
        except Refusal as exc:
            response = self.error(exc.status, exc.message, exc.code)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        client_id = request.header("x-ms-client-request-id")
        if client_id:
            response.headers["x-ms-client-request-id"] = client_id
        return response

    def authenticate(self, request: Request) -> Response | None:
        try:
            token = self.state.authenticate(request.header("authorization"))
        except Refusal as exc:
            return self.error(exc.status, exc.message, exc.code)
        version = request.query.get("api-version")
        if not version:
            return self.error(400, "The api-version query parameter is required.", "MissingApiVersionParameter")
        if version != API_VERSION:
            return self.error(400, f"The api-version '{version}' is not supported; use {API_VERSION}.",
                              "InvalidApiVersionParameter")
        throttled = self._throttle()
        if throttled is not None:
            return throttled
        if token.role != "admin" and request.method != "GET" and request.path.startswith("/api/enrollmentGroups"):
            return self.error(403, f"The role '{token.role}' may not change enrollment groups.", "Forbidden")
        self.calls.append((request.method, request.path))
        return None

    def _throttle(self) -> Response | None:
        if not self.rate_limit:
            return None
        now = time.monotonic()
        with self._window_lock:
            self._window = [t for t in self._window if now - t < 1.0]
            if len(self._window) >= self.rate_limit:
                # IoT Central does not document Retry-After, so none is sent.
                return self.error(429, "Too many requests: the application's request rate limit was exceeded.")
            self._window.append(now)
        return None

    # -- validation helpers -------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _fail(400, "InvalidJson", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _fail(422, "InvalidBody", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _group_id(request: Request) -> str:
        group_id = unquote(request.path_params["group"])
        if not GROUP_ID.match(group_id):
            raise _fail(400, "InvalidId", f"The enrollment group id '{group_id}' is invalid: use 1 to 255 letters, "
                                          "digits and hyphens.")
        return group_id

    @classmethod
    def _entry(cls, request: Request) -> tuple[str, str]:
        group_id = cls._group_id(request)
        entry = unquote(request.path_params["entry"])
        if entry not in ENTRIES:
            raise _fail(400, "InvalidCertificateEntry", f"The certificate entry '{entry}' is invalid: use primary or secondary.")
        return group_id, entry

    @staticmethod
    def _device_id(request: Request) -> str:
        device_id = unquote(request.path_params["device"])
        if not DEVICE_ID.match(device_id):
            raise _fail(400, "InvalidId", f"The device id '{device_id}' is invalid: use 1 to 128 letters, digits and hyphens.")
        return device_id

    @staticmethod
    def _check_types(body: dict[str, Any], spec: dict[str, type], what: str) -> None:
        for name, kind in spec.items():
            if name in body and body[name] is not None and not isinstance(body[name], kind):
                raise _fail(422, "InvalidBody", f"The field '{name}' of the {what} must be a {kind.__name__}.")

    def _page(self, request: Request, items: list[dict[str, Any]], path: str) -> Response:
        raw_size = request.query.get("maxpagesize")
        size = DEFAULT_PAGE_SIZE
        if raw_size is not None:
            if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
                raise _fail(400, "InvalidQueryParameter", f"maxpagesize must be 1 to {MAX_PAGE_SIZE}.")
            size = int(raw_size)
        raw_skip = request.query.get("$skiptoken", "0")
        if not raw_skip.isdigit():
            raise _fail(400, "InvalidQueryParameter", "The $skiptoken is not valid.")
        skip = int(raw_skip)
        body: dict[str, Any] = {"value": items[skip : skip + size]}
        if skip + size < len(items):
            host = request.header("host") or "127.0.0.1"
            query = f"api-version={API_VERSION}&maxpagesize={size}&{quote('$skiptoken')}={skip + size}"
            body["nextLink"] = f"https://{host}{path}?{query}"
        return Response(200, body)

    # -- enrollment groups ------------------------------------------------------------------------
    def list_groups(self, request: Request) -> Response:
        return self._page(request, self.state.list_groups(), "/api/enrollmentGroups")

    def get_group(self, request: Request) -> Response:
        return Response(200, self.state.group_json(self._group_id(request)))

    def put_group(self, request: Request) -> Response:
        group_id = self._group_id(request)
        body = self._body(request)
        missing = [f for f in ("displayName", "type", "attestation") if f not in body]
        if missing:
            raise _fail(422, "InvalidBody", f"Required field(s) missing from the enrollment group: {', '.join(missing)}.")
        self._check_types(body, {"displayName": str, "type": str, "enabled": bool, "attestation": dict}, "enrollment group")
        if not body["displayName"].strip():
            raise _fail(422, "InvalidBody", "displayName must not be empty.")
        if body["type"] not in _GROUP_TYPES:
            raise _fail(422, "InvalidBody", f"type must be one of {', '.join(_GROUP_TYPES)}.")
        attestation_type = body["attestation"].get("type")
        if attestation_type not in _ATTESTATIONS:
            raise _fail(422, "InvalidBody", f"attestation.type must be one of {', '.join(_ATTESTATIONS)}.")
        data = self.state.put_group(group_id, body["displayName"], body["type"], body.get("enabled", True), attestation_type)
        return Response(200, data)

    def patch_group(self, request: Request) -> Response:
        group_id = self._group_id(request)
        body = self._body(request)
        read_only = sorted(set(body) & {"id", "etag", "idScope", "attestation"})
        if read_only:
            raise _fail(422, "InvalidBody", f"These fields cannot be changed with PATCH: {', '.join(read_only)}.")
        unknown = sorted(set(body) - {"displayName", "enabled", "type"})
        if unknown:
            raise _fail(422, "InvalidBody", f"Unknown field(s): {', '.join(unknown)}.")
        self._check_types(body, {"displayName": str, "type": str, "enabled": bool}, "enrollment group")
        if "type" in body and body["type"] not in _GROUP_TYPES:
            raise _fail(422, "InvalidBody", f"type must be one of {', '.join(_GROUP_TYPES)}.")
        if "displayName" in body and not body["displayName"].strip():
            raise _fail(422, "InvalidBody", "displayName must not be empty.")
        return Response(200, self.state.patch_group(group_id, body, request.header("if-match")))

    def delete_group(self, request: Request) -> Response:
        self.state.delete_group(self._group_id(request))
        return Response(204)

    # -- certificates ----------------------------------------------------------------------------
    def get_certificate(self, request: Request) -> Response:
        return Response(200, self.state.get_certificate(*self._entry(request)))

    def set_certificate(self, request: Request) -> Response:
        group_id, entry = self._entry(request)
        body = self._body(request)
        if "certificate" not in body:
            raise _fail(422, "InvalidBody", "The field 'certificate' is required.")
        self._check_types(body, {"verified": bool}, "certificate")
        return Response(200, self.state.set_certificate(group_id, entry, body["certificate"], bool(body.get("verified"))))

    def remove_certificate(self, request: Request) -> Response:
        self.state.remove_certificate(*self._entry(request))
        return Response(204)

    def generate_code(self, request: Request) -> Response:
        return Response(200, {"verificationCode": self.state.generate_code(*self._entry(request))})

    def verify(self, request: Request) -> Response:
        group_id, entry = self._entry(request)
        body = self._body(request)
        if "certificate" not in body:
            raise _fail(422, "InvalidBody", "The field 'certificate' is required.")
        self.state.verify(group_id, entry, body["certificate"])
        return Response(204)

    # -- devices --------------------------------------------------------------------------------
    def list_devices(self, request: Request) -> Response:
        return self._page(request, self.state.list_devices(), "/api/devices")

    def get_device(self, request: Request) -> Response:
        return Response(200, self.state.device_json(self._device_id(request)))

    _DEVICE_FIELDS = {"displayName": str, "template": str, "simulated": bool, "enabled": bool}

    def put_device(self, request: Request) -> Response:
        device_id = self._device_id(request)
        body = self._body(request)
        read_only = sorted(set(body) & {"provisioned", "etag"})
        if read_only:
            raise _fail(422, "InvalidBody", f"Read-only field(s) cannot be set: {', '.join(read_only)}.")
        self._check_types(body, self._DEVICE_FIELDS, "device")
        return Response(200, self.state.put_device(device_id, body))

    def patch_device(self, request: Request) -> Response:
        device_id = self._device_id(request)
        body = self._body(request)
        read_only = sorted(set(body) & {"id", "provisioned", "etag"})
        if read_only:
            raise _fail(422, "InvalidBody", f"These fields cannot be changed with PATCH: {', '.join(read_only)}.")
        self._check_types(body, self._DEVICE_FIELDS, "device")
        return Response(200, self.state.patch_device(device_id, body, request.header("if-match")))

    def delete_device(self, request: Request) -> Response:
        self.state.delete_device(self._device_id(request))
        return Response(204)


__all__ = ["API_VERSION", "HttpError", "IoTCentralApp"]
