"""An emulator of Sectigo Certificate Manager's device-certificate API, backed by the local CA.

Same paths (`/api/device/v1/...`, and `/private/api/device/v1/...` for client-certificate
sign-in), headers, JSON bodies and `{code, description}` errors as SCM; the OAuth2
client-credentials token endpoint on its own path. One profile per intermediate, plus one that
requires approval. Enroll checks what SCM checks: orgId, certType, term, CSR (signature, key
type and size allowed by the profile), mandatory custom fields.

Issuance is asynchronous as in SCM: an approved order stays "being processed" for
`pending_collects` collects and/or `pending_seconds`, answering collect with HTTP 400 and a
"not yet" code. Faults per run: `app.faults.add(...)` with the shared kinds (latency, 429, 500,
503, drop) plus "pending" (collect answers "not ready") and "garbage" (HTTP 200 with an HTML
page); `app.pending_forever = True` keeps every order pending.

Codes the public documents do not pin down (marked unverified in the contract) follow
Sectigo's general API conventions: -2 unrecognised argument, -3 missing argument, -4 invalid
value, -14 unknown error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets as _random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from certbench.core.emulators.httpserver import EmulatorApp, Fault, HttpError, Request, Response
from certbench.core.pki.local import DEFAULT_INTERMEDIATES, LocalCA
from certbench.core.x509.parse import to_pem

API = r"(?:/private)?/api/device/v1"
TOKEN_PATH = "/auth/realms/apiclients/protocol/openid-connect/token"
FORMATS = ("x509", "x509R", "pem", "x509CO", "pemco", "x509IO", "x509IOR", "pemia", "base64", "bin")
PENDING_DESCRIPTIONS = {
    0: "Being processed by Sectigo",
    -183: "Certificate is not collectable.",
    -109: "Certificate is not available now. Please try again later.",
    -1400: "The request is being processed by Sectigo.",
    -195: "CA is not available now. Please try again later.",
}
REASON_CODES = (0, 1, 3, 4, 5)
FIRST_PROFILE_ID = 2001
ALL_KEY_TYPES = {"RSA": ["2048", "3072", "4096"], "EC": ["P-256", "P-384"]}
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


def _fail(status: int, code: int, description: str) -> HttpError:
    return HttpError(Response(status, {"code": code, "description": description}))


@dataclass
class EmulatedProfile:
    id: int
    name: str
    intermediate: str
    org_ids: list[int]
    description: str = ""
    terms: list[int] = field(default_factory=lambda: [365, 730, 1095])
    key_types: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in ALL_KEY_TYPES.items()})
    requires_approval: bool = False
    # A subject template that replaces the CSR's CN, e.g. "{cn}.devices.medicorp.example":
    # what a misconfigured SCM profile does, and what Certbench must refuse.
    rewrite_cn: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "terms": list(self.terms),
            "keyTypes": {k: list(v) for k, v in self.key_types.items()},
            "term": self.terms[0],
            "ku": ["Digital Signature", "Key Encipherment"],
            "eku": [CLIENT_AUTH],
            "useSecondaryOrgName": False,
        }


@dataclass
class EmulatedOrder:
    id: int
    org_id: int
    profile_id: int
    term: int
    csr_pem: str
    common_name: str
    requester: str
    status: str  # REQUESTED, APPROVED, ISSUED, DECLINED, REVOKED
    created: float
    comments: str = ""
    pending_left: int = 0
    ready_at: float = 0.0
    cert_pem: str = ""
    serial_hex: str = ""
    collects: int = 0
    message: str = ""
    revocation_reason: int | None = None


class SectigoEmulator(EmulatorApp):
    def __init__(
        self,
        *,
        ca_directory: Path | None = None,
        state_dir: Path | None = None,
        intermediates: tuple[str, ...] = DEFAULT_INTERMEDIATES,
        customer_uri: str = "medicorp",
        login: str = "certbench-api",
        password: str | None = None,
        org_id: int = 4242,
        pending_collects: int = 0,
        pending_seconds: float = 0.0,
        pending_code: int = 0,
        token_lifetime: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._tmp: str | None = None
        self.state_dir = Path(state_dir) if state_dir else None
        if ca_directory is None:
            if self.state_dir:
                ca_directory = self.state_dir / "ca"
            else:
                self._tmp = tempfile.mkdtemp(prefix="certbench-sectigo-emulator-")
                ca_directory = Path(self._tmp) / "ca"
        self.ca = LocalCA(
            ca_directory,
            intermediate_names=intermediates,
            display_names={n: f"MediCorp Device Issuing CA {i} (Sectigo emulator)" for i, n in enumerate(intermediates, 1)},
        ).ensure()
        self.customer_uri = customer_uri
        self.login = login
        self.password = password or _random.token_urlsafe(18)
        self.users: dict[str, str] = {login: self.password}
        self.org_id = org_id
        self.org_ids = {org_id}
        self.client_cert_logins: dict[str, str] = {}  # sha256(DER) hex -> login
        self.oauth_clients: dict[str, str] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry (clock)
        self.token_lifetime = token_lifetime
        self.tokens_issued = 0
        self.pending_collects = pending_collects
        self.pending_seconds = pending_seconds
        self.pending_code = pending_code
        self.pending_forever = False
        self.custom_fields: list[dict[str, Any]] = [{"id": 133, "name": "Bench", "mandatory": False}]
        self.clock = clock
        self._lock = threading.RLock()
        self.profiles: dict[int, EmulatedProfile] = {}
        for index, name in enumerate(intermediates):
            pid = FIRST_PROFILE_ID + index
            self.profiles[pid] = EmulatedProfile(pid, f"MediCorp Device - {name}", name, [org_id],
                                                 description=f"Client authentication, issued by {name}")
        approval_id = FIRST_PROFILE_ID + len(intermediates)
        self.approval_profile_id = approval_id
        self.profiles[approval_id] = EmulatedProfile(
            approval_id, f"MediCorp Device - {intermediates[0]} (approval required)", intermediates[0], [org_id],
            description="Orders wait for an administrator's approval", requires_approval=True,
        )
        self.orders: dict[int, EmulatedOrder] = {}
        self.enroll_calls = 0
        self._next_id = 101
        self._load()
        self._routes_setup()

    # -- set-up helpers ----------------------------------------------------------------------
    def profile_for(self, intermediate: str) -> int:
        """The (auto-approved) profile id bound to `intermediate`."""
        for profile in self.profiles.values():
            if profile.intermediate == intermediate and not profile.requires_approval:
                return profile.id
        raise KeyError(intermediate)

    def add_client_certificate(self, login: str, cert: x509.Certificate) -> None:
        der = cert.public_bytes(serialization.Encoding.DER)
        self.client_cert_logins[hashlib.sha256(der).hexdigest()] = login
        self.users.setdefault(login, _random.token_urlsafe(18))

    def add_oauth_client(self, client_id: str, client_secret: str | None = None) -> str:
        secret = client_secret or _random.token_urlsafe(24)
        self.oauth_clients[client_id] = secret
        return secret

    def expire_tokens(self) -> None:
        """Every access token handed out so far stops working (as after its lifetime)."""
        with self._lock:
            self.tokens.clear()

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- persistence (--state) ---------------------------------------------------------------
    def _state_file(self) -> Path | None:
        return self.state_dir / "orders.json" if self.state_dir else None

    def _load(self) -> None:
        path = self._state_file()
        if path and path.is_file():
            data = json.loads(path.read_text())
            self.orders = {o["id"]: EmulatedOrder(**o) for o in data["orders"]}
            self._next_id = data["next_id"]

    def _save(self) -> None:
        path = self._state_file()
        if not path:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next_id": self._next_id, "orders": [asdict(o) for o in self.orders.values()]}))
        os.replace(tmp, path)

    # -- plumbing ----------------------------------------------------------------------------
    def _routes_setup(self) -> None:
        self.route("POST", TOKEN_PATH, self.token)
        self.route("GET", API + "/types", self.types)
        self.route("GET", API + "/customFields", self.get_custom_fields)
        self.route("POST", API + "/enroll", self.enroll)
        self.route("GET", API + r"/collect/(?P<id>[^/]+)", self.collect)
        self.route("POST", API + r"/approve/(?P<id>[^/]+)", self.approve)
        self.route("POST", API + r"/decline/(?P<id>[^/]+)", self.decline)
        self.route("POST", API + r"/revoke/order/(?P<id>[^/]+)", self.revoke_order)
        self.route("POST", API + r"/revoke/serial/(?P<serial>[^/]+)", self.revoke_serial)
        self.route("GET", API + r"/(?P<id>\d+)", self.details)
        self.route("GET", API, self.list_orders)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"code": -14, "description": message})

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "pending":
            return self._pending_response()
        if fault.kind == "garbage":
            return Response(200, b"<html><body>Scheduled maintenance</body></html>", content_type="text/html")
        response = super().fault_response(fault)
        if int(fault.kind) == 429:
            response.body = {"code": -14, "description": "Too many requests, slow down."}
        else:
            response.body = {"code": -14, "description": "An unknown error occurred!"}
        return response

    def authenticate(self, request: Request) -> Response | None:
        if request.path == TOKEN_PATH:
            return None
        auth = request.header("authorization") or ""
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
            with self._lock:
                expiry = self.tokens.get(token)
            if expiry is None or self.clock() >= expiry or request.path.startswith("/private/"):
                return Response(401, {"code": -970, "description": "Access token is invalid or has expired."})
            return None
        login = request.header("login")
        customer = request.header("customeruri")
        if not login or not customer:
            return Response(401, {"code": -16, "description": "Unknown user"})
        if customer != self.customer_uri or login not in self.users:
            return Response(401, {"code": -16, "description": "Unknown user"})
        if request.path.startswith("/private/"):
            der = request.client_cert_der
            if not der or self.client_cert_logins.get(hashlib.sha256(der).hexdigest()) != login:
                return Response(401, {"code": -970, "description": "Incorrect login credentials: no valid client certificate for this login."})
            return None
        if request.header("password") != self.users[login]:
            return Response(401, {"code": -970, "description": "Incorrect login credentials"})
        return None

    def _requester(self, request: Request) -> str:
        return request.header("login") or "api-client"

    def _order(self, raw_id: str) -> EmulatedOrder:
        try:
            order = self.orders.get(int(raw_id))
        except ValueError:
            order = None
        if order is None:
            raise _fail(404, -5101, "Certificate not found")
        return order

    def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _fail(400, -4, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _fail(400, -4, "The request body must be a JSON object.")
        return body

    # -- OAuth2 ------------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
        client_id = form.get("client_id", "")
        if client_id not in self.oauth_clients:
            return Response(401, {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
        if form.get("client_secret") != self.oauth_clients[client_id]:
            return Response(401, {"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
        token = _random.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = self.clock() + self.token_lifetime
            self.tokens_issued += 1
        return Response(200, {"access_token": token, "expires_in": self.token_lifetime, "refresh_expires_in": 0,
                              "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"})

    # -- profiles ----------------------------------------------------------------------------
    def types(self, request: Request) -> Response:
        org = request.query.get("organizationId")
        profiles = list(self.profiles.values())
        if org:
            try:
                org_id = int(org)
            except ValueError:
                raise _fail(400, -4, "The value of the 'organizationId' argument is invalid!") from None
            profiles = [p for p in profiles if org_id in p.org_ids]
        return Response(200, [p.to_json() for p in profiles])

    def get_custom_fields(self, request: Request) -> Response:
        return Response(200, self.custom_fields)

    # -- enroll ------------------------------------------------------------------------------
    def enroll(self, request: Request) -> Response:
        body = self._body(request)
        known = {"orgId", "csr", "certType", "term", "comments", "customFields", "optionalFields", "externalRequester"}
        for key in body:
            if key not in known:
                raise _fail(400, -2, f"'{key}' is an unrecognised argument!")
        for key in ("orgId", "csr", "certType"):
            if body.get(key) in (None, ""):
                raise _fail(400, -3, f"The '{key}' argument is missing!")
        org_id, cert_type = body["orgId"], body["certType"]
        if not isinstance(org_id, int) or isinstance(org_id, bool) or org_id not in self.org_ids:
            raise _fail(400, -4, "The value of the 'orgId' argument is invalid!")
        profile = self.profiles.get(cert_type) if isinstance(cert_type, int) and not isinstance(cert_type, bool) else None
        if profile is None or org_id not in profile.org_ids:
            raise _fail(400, -39, "Invalid certificate type (profile) id.")
        term = body.get("term", profile.terms[0])
        if not isinstance(term, int) or term not in profile.terms:
            raise _fail(400, -36, f"Term {term} is not valid for this profile.")
        comments = body.get("comments") or ""
        if not isinstance(comments, str) or len(comments) > 1024:
            raise _fail(400, -4, "The value of the 'comments' argument is invalid!")
        given = {f.get("name"): f.get("value") for f in body.get("customFields") or [] if isinstance(f, dict)}
        for custom in self.custom_fields:
            if custom.get("mandatory") and not given.get(custom["name"]):
                raise _fail(400, -62, f"Custom field '{custom['name']}' is mandatory.")
        csr_text = body["csr"]
        if not isinstance(csr_text, str):
            raise _fail(400, -10, "Invalid CSR.")
        try:
            csr = x509.load_pem_x509_csr(csr_text.encode())
            csr.subject  # noqa: B018 - parsed lazily
        except Exception:  # noqa: BLE001 - anything unreadable is simply an invalid CSR
            raise _fail(400, -10, "Invalid CSR.") from None
        try:
            signature_ok = csr.is_signature_valid
        except Exception:  # noqa: BLE001
            signature_ok = False
        if not signature_ok:
            raise _fail(400, -9, "CSR signature is invalid.")
        algorithm, size = _key_type(csr.public_key())
        if algorithm not in profile.key_types:
            raise _fail(400, -11, f"Unsupported key algorithm {algorithm} for this profile.")
        if size not in profile.key_types[algorithm]:
            raise _fail(400, -13, f"Unsupported key size {size} for this profile.")
        optional = {f.get("name"): f.get("value") for f in body.get("optionalFields") or [] if isinstance(f, dict)}
        cns = csr.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        cn = optional.get("commonName") or (cns[0].value if cns else None)
        if not cn:
            raise _fail(400, -3, "The 'commonName' argument is missing!")
        with self._lock:
            self.enroll_calls += 1
            order_id = self._next_id
            self._next_id += 1
            order = EmulatedOrder(
                id=order_id, org_id=org_id, profile_id=profile.id, term=term, csr_pem=csr_text,
                common_name=str(cn), requester=self._requester(request), created=self.clock(), comments=comments,
                status="REQUESTED" if profile.requires_approval else "APPROVED",
            )
            if not profile.requires_approval:
                self._start_processing(order)
            self.orders[order_id] = order
            self._save()
        return Response(200, {"deviceCertId": order_id, "status": order.status,
                              "backendCertId": str(order_id + 5000), "orderNumber": order_id})

    def _start_processing(self, order: EmulatedOrder) -> None:
        order.pending_left = self.pending_collects
        order.ready_at = self.clock() + self.pending_seconds

    def _issue_if_ready(self, order: EmulatedOrder, *, counting: bool) -> bool:
        """Advance an approved order; True once it is issued."""
        if order.status != "APPROVED":
            return order.status == "ISSUED"
        if self.pending_forever:
            return False
        if counting and order.pending_left > 0:
            order.pending_left -= 1
            return False
        if order.pending_left > 0 or self.clock() < order.ready_at:
            return False
        profile = self.profiles[order.profile_id]
        csr = x509.load_pem_x509_csr(order.csr_pem.encode())
        cn = profile.rewrite_cn.format(cn=order.common_name) if profile.rewrite_cn else order.common_name
        now = dt.datetime.now(dt.timezone.utc)
        cert = self.ca.sign_leaf(profile.intermediate, csr.public_key(), cn, not_after=now + dt.timedelta(days=order.term))
        order.cert_pem = to_pem([cert])
        order.serial_hex = f"{cert.serial_number:X}"
        order.status = "ISSUED"
        self._save()
        return True

    def _pending_response(self) -> Response:
        code = self.pending_code
        return Response(400, {"code": code, "description": PENDING_DESCRIPTIONS.get(code, "Being processed by Sectigo")})

    # -- collect -----------------------------------------------------------------------------
    def collect(self, request: Request) -> Response:
        fmt = request.query.get("format") or "base64"  # SCM: no format means PKCS#7
        with self._lock:
            order = self._order(request.path_params["id"])
            order.collects += 1
            if fmt not in FORMATS:
                raise _fail(400, -126, f"Unknown format '{fmt}'.")
            if order.status == "REVOKED":
                raise _fail(400, -110, "Certificate has been revoked and cannot be downloaded.")
            if order.status in ("REQUESTED", "DECLINED"):
                raise _fail(400, -183, "Certificate is not collectable.")
            if not self._issue_if_ready(order, counting=True):
                return self._pending_response()
            leaf = x509.load_pem_x509_certificate(order.cert_pem.encode())
        profile = self.profiles[order.profile_id]
        intermediate = self.ca.intermediate(profile.intermediate)
        root = intermediate.chain_above[-1]
        inter = intermediate.certificate
        pem_chains = {
            "x509": [root, inter, leaf], "pem": [root, inter, leaf], "x509R": [leaf, inter, root],
            "x509CO": [leaf], "pemco": [leaf], "x509IO": [root, inter], "x509IOR": [inter, root],
            "pemia": [leaf, inter],
        }
        if fmt in pem_chains:
            payload = to_pem(pem_chains[fmt]).encode()
        elif fmt == "base64":
            payload = pkcs7.serialize_certificates([leaf, inter, root], serialization.Encoding.PEM)
        else:
            payload = pkcs7.serialize_certificates([leaf, inter, root], serialization.Encoding.DER)
        return Response(200, payload, content_type="application/octet-stream")

    # -- details and list --------------------------------------------------------------------
    def _details_json(self, order: EmulatedOrder) -> dict[str, Any]:
        profile = self.profiles[order.profile_id]
        data: dict[str, Any] = {
            "id": order.id,
            "commonName": order.common_name,
            "orgId": order.org_id,
            "status": order.status.capitalize(),  # SCM: "Issued" here, "APPROVED" from enroll
            "certType": {"id": profile.id, "name": profile.name},
            "term": order.term,
            "requester": order.requester,
            "comments": order.comments,
            "backendCertId": str(order.id + 5000),
        }
        if order.cert_pem:
            cert = x509.load_pem_x509_certificate(order.cert_pem.encode())
            data["serialNumber"] = order.serial_hex
            data["certificateDetails"] = {
                "issuer": cert.issuer.rfc4514_string(),
                "subject": cert.subject.rfc4514_string(),
                "expires": cert.not_valid_after_utc.isoformat(),
            }
        return data

    def details(self, request: Request) -> Response:
        with self._lock:
            order = self._order(request.path_params["id"])
            self._issue_if_ready(order, counting=False)
            return Response(200, self._details_json(order))

    def list_orders(self, request: Request) -> Response:
        q = request.query
        try:
            size = int(q.get("size") or 200)
            position = int(q.get("position") or 0)
            cert_type = int(q["certTypeId"]) if q.get("certTypeId") else None
        except ValueError:
            raise _fail(400, -4, "The value of a paging or filter argument is invalid!") from None
        with self._lock:
            for order in self.orders.values():
                self._issue_if_ready(order, counting=False)
            rows = [
                o for o in sorted(self.orders.values(), key=lambda o: o.id)
                if (not q.get("commonName") or o.common_name == q["commonName"])
                and (not q.get("status") or o.status.casefold() == q["status"].casefold())
                and (cert_type is None or o.profile_id == cert_type)
            ]
            page = [self._details_json(o) for o in rows[position:position + size]]
        return Response(200, page, headers={"X-Total-Count": str(len(rows))})

    # -- approval and revocation -------------------------------------------------------------
    def approve(self, request: Request) -> Response:
        return self._decide(request, "APPROVED")

    def decline(self, request: Request) -> Response:
        return self._decide(request, "DECLINED")

    def _decide(self, request: Request, status: str) -> Response:
        body = self._body(request) if request.body else {}
        with self._lock:
            order = self._order(request.path_params["id"])
            if order.status != "REQUESTED":
                raise _fail(400, -4, f"The certificate is {order.status.capitalize()}, not Requested.")
            order.status = status
            order.message = str(body.get("message") or "")
            if status == "APPROVED":
                self._start_processing(order)
            self._save()
        return Response(204)

    def _revocation(self, request: Request) -> int:
        body = self._body(request)
        if "reasonCode" not in body:
            raise _fail(400, -3, "The 'reasonCode' argument is missing!")
        if body["reasonCode"] not in REASON_CODES or isinstance(body["reasonCode"], bool):
            raise _fail(400, -4, "The value of the 'reasonCode' argument is invalid!")
        return body["reasonCode"]

    def _revoke(self, order: EmulatedOrder, reason: int) -> None:
        if order.status == "REVOKED":
            raise _fail(400, -110, "Certificate is already revoked.")
        if order.status != "ISSUED":
            raise _fail(400, -4, f"The certificate is {order.status.capitalize()}; only issued certificates can be revoked.")
        order.status = "REVOKED"
        order.revocation_reason = reason
        self._save()

    def revoke_order(self, request: Request) -> Response:
        reason = self._revocation(request)
        with self._lock:
            self._revoke(self._order(request.path_params["id"]), reason)
        return Response(204)

    def revoke_serial(self, request: Request) -> Response:
        reason = self._revocation(request)
        wanted = request.path_params["serial"].replace(":", "").upper().lstrip("0")
        with self._lock:
            match = [o for o in self.orders.values() if o.serial_hex and o.serial_hex.lstrip("0") == wanted]
            if not match:
                raise _fail(404, -5101, "Certificate not found")
            self._revoke(match[0], reason)
        return Response(204)


def _key_type(public_key) -> tuple[str, str]:
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", str(public_key.key_size)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC", {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(public_key.curve.name, public_key.curve.name)
    return type(public_key).__name__.replace("PublicKey", "").upper(), ""

