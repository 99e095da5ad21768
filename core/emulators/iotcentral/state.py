"""What the IoT Central emulator knows: enrollment groups and their certificate entries,
devices, API tokens, the application's ID scope. Thread-safe (one lock); optionally saved
as JSON in a folder so a restarted emulator keeps its groups and devices.

The DPS emulator reads it through `verified_ca_certificates()`, `id_scope` and
`upsert_device()`: a device registering through a verified group appears here with
`provisioned: true`, as in IoT Central.

Tokens are kept as SHA-256 digests only, so the saved state holds no usable secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from certbench.core.emulators.iotcentral.certs import (
    CertificateRejected,
    check_signing_certificate,
    check_verification_certificate,
    decode_certificate,
)
from certbench.core.x509.inspect import sha1_thumbprint
from certbench.core.x509.parse import to_pem

STATE_FILE = "iotcentral-state.json"
ENTRIES = ("primary", "secondary")
ROLES = ("admin", "operator")


class Refusal(Exception):
    """A request the service refuses: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _etag() -> str:
    return f'"{secrets.token_hex(8)}"'


def _digest(header: str) -> str:
    return hashlib.sha256(header.encode()).hexdigest()


@dataclass
class CertEntry:
    pem: str
    thumbprint: str
    verified: bool = False
    etag: str = field(default_factory=_etag)
    # The current verification code; bound to this certificate, so a new upload voids it.
    code: str | None = None

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.pem.encode())

    def to_json(self) -> dict[str, Any]:
        return {"verified": self.verified, "info": {"sha1Thumbprint": self.thumbprint}, "etag": self.etag}


@dataclass
class Group:
    id: str
    display_name: str
    type: str = "iot"
    enabled: bool = True
    attestation_type: str = "x509"
    etag: str = field(default_factory=_etag)
    certificates: dict[str, CertEntry] = field(default_factory=dict)
    symmetric_keys: dict[str, str] = field(default_factory=dict)

    def to_json(self, id_scope: str) -> dict[str, Any]:
        attestation: dict[str, Any] = {"type": self.attestation_type}
        if self.attestation_type == "x509":
            attestation["x509"] = {
                "signingCertificates": {name: self.certificates[name].to_json() for name in ENTRIES if name in self.certificates}
            }
        else:
            attestation["symmetricKey"] = dict(self.symmetric_keys)
        return {
            "id": self.id,
            "displayName": self.display_name,
            "enabled": self.enabled,
            "type": self.type,
            "attestation": attestation,
            "etag": self.etag,
            "idScope": id_scope,
        }


@dataclass
class DeviceRecord:
    id: str
    display_name: str
    template: str | None = None
    simulated: bool = False
    enabled: bool = True
    provisioned: bool = False
    etag: str = field(default_factory=_etag)
    # Not part of the API body: which group a provisioned device came through.
    group_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "etag": self.etag,
            "displayName": self.display_name,
            "simulated": self.simulated,
            "provisioned": self.provisioned,
            "enabled": self.enabled,
        }
        if self.template:
            body["template"] = self.template
        return body


@dataclass
class TokenRecord:
    digest: str
    kind: str  # "api-token" | "bearer"
    role: str
    expires: float  # epoch seconds


@dataclass(frozen=True)
class VerifiedCA:
    """A CA certificate proven by possession in an enabled X.509 enrollment group."""

    group_id: str
    entry: str
    thumbprint: str
    certificate: x509.Certificate
    group_type: str


class IoTCentralState:
    def __init__(self, directory: Path | str | None = None, *, subdomain: str = "certbench-emulator") -> None:
        self._lock = threading.RLock()
        self.directory = Path(directory) if directory else None
        self.subdomain = subdomain
        self.app_id = str(uuid.uuid4())
        self.id_scope = "0ne" + secrets.token_hex(4).upper()
        self.groups: dict[str, Group] = {}
        self.devices: dict[str, DeviceRecord] = {}
        self.tokens: list[TokenRecord] = []
        if self.directory and (self.directory / STATE_FILE).is_file():
            self._load()

    # -- persistence ----------------------------------------------------------------------
    def _load(self) -> None:
        assert self.directory is not None
        data = json.loads((self.directory / STATE_FILE).read_text(encoding="utf-8"))
        self.app_id = data["app_id"]
        self.id_scope = data["id_scope"]
        self.subdomain = data.get("subdomain", self.subdomain)
        for raw in data.get("groups", []):
            certs = {name: CertEntry(**value) for name, value in raw.pop("certificates", {}).items()}
            self.groups[raw["id"]] = Group(**raw, certificates=certs)
        for raw in data.get("devices", []):
            self.devices[raw["id"]] = DeviceRecord(**raw)
        self.tokens = [TokenRecord(**raw) for raw in data.get("tokens", [])]

    def _save(self) -> None:
        if self.directory is None:
            return
        data = {
            "app_id": self.app_id,
            "id_scope": self.id_scope,
            "subdomain": self.subdomain,
            "groups": [asdict(g) for g in self.groups.values()],
            "devices": [asdict(d) for d in self.devices.values()],
            "tokens": [asdict(t) for t in self.tokens],
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / STATE_FILE
        tmp = target.with_name(f".{STATE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, target)

    # -- tokens -----------------------------------------------------------------------------
    def issue_token(self, *, role: str = "admin", kind: str = "api-token", lifetime: float = 365 * 86400) -> str:
        """A new token; the full header value for an API token (`SharedAccessSignature ...`),
        the bare access token for a bearer. A negative lifetime makes an expired one (tests)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        expires = time.time() + lifetime
        if kind == "api-token":
            sig = base64.b64encode(secrets.token_bytes(32)).decode()
            token = (
                f"SharedAccessSignature sr={self.app_id}&sig={sig.replace('+', '%2B').replace('/', '%2F').replace('=', '%3D')}"
                f"&skn=certbench-{role}&se={int(expires * 1000)}"
            )
            header = token
        elif kind == "bearer":
            token = secrets.token_urlsafe(48)
            header = f"Bearer {token}"
        else:
            raise ValueError("kind must be api-token or bearer")
        with self._lock:
            self.tokens.append(TokenRecord(_digest(header), kind, role, expires))
            self._save()
        return token

    def authenticate(self, header: str | None) -> TokenRecord:
        if not header:
            raise Refusal(401, "Unauthorized", "The request has no Authorization header.")
        digest = _digest(header.strip())
        with self._lock:
            record = next((t for t in self.tokens if secrets.compare_digest(t.digest, digest)), None)
        if record is None:
            raise Refusal(401, "Unauthorized", "The authorization token is not valid for this application.")
        if record.expires < time.time():
            raise Refusal(401, "Unauthorized", "The authorization token has expired.")
        return record

    # -- groups -----------------------------------------------------------------------------
    def _group(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            raise Refusal(404, "NotFound", f"Enrollment group '{group_id}' was not found.")
        return group

    def group_json(self, group_id: str) -> dict[str, Any]:
        with self._lock:
            return self._group(group_id).to_json(self.id_scope)

    def list_groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.groups[k].to_json(self.id_scope) for k in sorted(self.groups)]

    def put_group(self, group_id: str, display_name: str, type_: str, enabled: bool, attestation_type: str) -> dict[str, Any]:
        """Create, or replace the group's settings (PUT is idempotent). Certificates stay
        unless the attestation type changes, which voids them."""
        with self._lock:
            group = self.groups.get(group_id)
            if group is None:
                group = Group(group_id, display_name, type_, enabled, attestation_type)
                self.groups[group_id] = group
            else:
                if group.attestation_type != attestation_type:
                    group.certificates.clear()
                    group.symmetric_keys.clear()
                group.display_name, group.type, group.enabled = display_name, type_, enabled
                group.attestation_type = attestation_type
                group.etag = _etag()
            if attestation_type == "symmetricKey" and not group.symmetric_keys:
                group.symmetric_keys = {
                    "primaryKey": base64.b64encode(secrets.token_bytes(64)).decode(),
                    "secondaryKey": base64.b64encode(secrets.token_bytes(64)).decode(),
                }
            self._save()
            return group.to_json(self.id_scope)

    def patch_group(self, group_id: str, changes: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        with self._lock:
            group = self._group(group_id)
            _check_if_match(if_match, group.etag, f"enrollment group '{group_id}'")
            if "displayName" in changes:
                group.display_name = changes["displayName"]
            if "enabled" in changes:
                group.enabled = changes["enabled"]
            if "type" in changes:
                group.type = changes["type"]
            group.etag = _etag()
            self._save()
            return group.to_json(self.id_scope)

    def delete_group(self, group_id: str) -> None:
        with self._lock:
            self._group(group_id)
            del self.groups[group_id]
            self._save()

    # -- certificate entries ------------------------------------------------------------------
    def _x509_group(self, group_id: str) -> Group:
        group = self._group(group_id)
        if group.attestation_type != "x509":
            raise Refusal(
                422, "InvalidAttestation", f"Enrollment group '{group_id}' uses {group.attestation_type} attestation, not x509."
            )
        return group

    def _entry(self, group_id: str, entry: str) -> tuple[Group, CertEntry]:
        group = self._x509_group(group_id)
        cert = group.certificates.get(entry)
        if cert is None:
            raise Refusal(404, "NotFound", f"Enrollment group '{group_id}' has no {entry} certificate.")
        return group, cert

    def get_certificate(self, group_id: str, entry: str) -> dict[str, Any]:
        with self._lock:
            return self._entry(group_id, entry)[1].to_json()

    def set_certificate(self, group_id: str, entry: str, certificate_b64: Any, verified: bool) -> dict[str, Any]:
        with self._lock:
            group = self._x509_group(group_id)
            try:
                cert = decode_certificate(certificate_b64)
                check_signing_certificate(cert)
            except CertificateRejected as exc:
                raise Refusal(422, "InvalidCertificate", str(exc)) from None
            thumbprint = sha1_thumbprint(cert)
            for other in self.groups.values():
                for name, held in other.certificates.items():
                    if held.thumbprint == thumbprint and (other.id, name) != (group_id, entry):
                        raise Refusal(
                            422,
                            "CertificateInUse",
                            f"The certificate {thumbprint} is already used by the {name} entry of enrollment group "
                            f"'{other.id}'; a certificate can be used by one enrollment group only.",
                        )
            current = group.certificates.get(entry)
            if current is not None and current.thumbprint == thumbprint:
                # The same certificate again: nothing changes unless it is now self-attested.
                if verified and not current.verified:
                    current.verified, current.code, current.etag = True, None, _etag()
                    group.etag = _etag()
                    self._save()
                return current.to_json()
            group.certificates[entry] = CertEntry(pem=to_pem([cert]), thumbprint=thumbprint, verified=bool(verified))
            group.etag = _etag()
            self._save()
            return group.certificates[entry].to_json()

    def remove_certificate(self, group_id: str, entry: str) -> None:
        with self._lock:
            group, _ = self._entry(group_id, entry)
            del group.certificates[entry]
            group.etag = _etag()
            self._save()

    def generate_code(self, group_id: str, entry: str) -> str:
        """A fresh random code for the certificate now in the entry; it replaces any earlier
        one (deliberate choice: the contract leaves this unverified)."""
        with self._lock:
            _, cert = self._entry(group_id, entry)
            cert.code = secrets.token_hex(24).upper()
            self._save()
            return cert.code

    def verify(self, group_id: str, entry: str, certificate_b64: Any) -> None:
        with self._lock:
            group, held = self._entry(group_id, entry)
            try:
                verification = decode_certificate(certificate_b64)
            except CertificateRejected as exc:
                raise Refusal(422, "InvalidCertificate", str(exc)) from None
            if held.code is None:
                raise Refusal(
                    400,
                    "VerificationCodeNotFound",
                    f"No verification code is pending for the {entry} certificate of '{group_id}'; generate one first.",
                )
            try:
                check_verification_certificate(verification, held.certificate(), held.code)
            except CertificateRejected as exc:
                raise Refusal(400, "CertificateVerificationFailed", str(exc)) from None
            held.verified, held.code, held.etag = True, None, _etag()
            group.etag = _etag()
            self._save()

    # -- what the DPS emulator reads -------------------------------------------------------------
    def verified_ca_certificates(self, *, include_disabled: bool = False) -> list[VerifiedCA]:
        with self._lock:
            found = []
            for group in self.groups.values():
                if group.attestation_type != "x509" or not (group.enabled or include_disabled):
                    continue
                for name in ENTRIES:
                    held = group.certificates.get(name)
                    if held is not None and held.verified:
                        found.append(VerifiedCA(group.id, name, held.thumbprint, held.certificate(), group.type))
            return found

    def upsert_device(
        self,
        device_id: str,
        *,
        provisioned: bool = True,
        display_name: str | None = None,
        template: str | None = None,
        group_id: str | None = None,
    ) -> dict[str, Any]:
        """Create or update a device the way a DPS registration does (provisioned: true)."""
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                device = DeviceRecord(device_id, display_name or device_id, template)
                self.devices[device_id] = device
            elif display_name:
                device.display_name = display_name
            if template:
                device.template = template
            device.provisioned = provisioned or device.provisioned
            device.group_id = group_id or device.group_id
            device.etag = _etag()
            self._save()
            return device.to_json()

    # -- devices (API) ----------------------------------------------------------------------------
    def _device(self, device_id: str) -> DeviceRecord:
        device = self.devices.get(device_id)
        if device is None:
            raise Refusal(404, "NotFound", f"Device '{device_id}' was not found.")
        return device

    def device_json(self, device_id: str) -> dict[str, Any]:
        with self._lock:
            return self._device(device_id).to_json()

    def list_devices(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.to_json() for d in self.devices.values()]

    def put_device(self, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                device = DeviceRecord(device_id, body.get("displayName") or device_id)
                self.devices[device_id] = device
            device.display_name = body.get("displayName") or device.display_name
            device.template = body.get("template", device.template)
            device.simulated = body.get("simulated", device.simulated)
            device.enabled = body.get("enabled", device.enabled)
            device.etag = _etag()
            self._save()
            return device.to_json()

    def patch_device(self, device_id: str, changes: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        with self._lock:
            device = self._device(device_id)
            _check_if_match(if_match, device.etag, f"device '{device_id}'")
            for api_name, attr in (("displayName", "display_name"), ("template", "template"),
                                   ("simulated", "simulated"), ("enabled", "enabled")):
                if api_name in changes:
                    setattr(device, attr, changes[api_name])
            device.etag = _etag()
            self._save()
            return device.to_json()

    def delete_device(self, device_id: str) -> None:
        with self._lock:
            self._device(device_id)
            del self.devices[device_id]
            self._save()


def _check_if_match(if_match: str | None, etag: str, what: str) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    tags = [t.strip() for t in if_match.split(",")]
    if etag not in tags:
        raise Refusal(412, "PreconditionFailed", f"The etag in If-Match does not match the current etag of {what}.")
