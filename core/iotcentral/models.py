"""IoT Central resources as the client hands them out: plain dataclasses built from the
service's JSON, keeping the raw body for anything not modelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CertificateEntry:
    """One X.509 entry (`primary` / `secondary`) of an enrollment group. IoT Central never
    echoes the certificate itself, only its SHA-1 thumbprint."""

    entry: str
    verified: bool
    sha1_thumbprint: str | None
    etag: str | None = None

    @classmethod
    def from_json(cls, entry: str, data: dict[str, Any]) -> CertificateEntry:
        info = data.get("info") or {}
        thumb = info.get("sha1Thumbprint")
        return cls(
            entry=entry,
            verified=bool(data.get("verified")),
            sha1_thumbprint=thumb.upper() if isinstance(thumb, str) else None,
            etag=data.get("etag"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "verified": self.verified, "sha1_thumbprint": self.sha1_thumbprint, "etag": self.etag}


@dataclass(frozen=True)
class EnrollmentGroup:
    id: str
    display_name: str
    enabled: bool
    type: str
    attestation_type: str
    etag: str | None = None
    id_scope: str | None = None
    certificates: dict[str, CertificateEntry] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnrollmentGroup:
        attestation = data.get("attestation") or {}
        signing = ((attestation.get("x509") or {}).get("signingCertificates")) or {}
        return cls(
            id=data.get("id", ""),
            display_name=data.get("displayName", ""),
            enabled=bool(data.get("enabled", True)),
            type=data.get("type", "iot"),
            attestation_type=attestation.get("type", ""),
            etag=data.get("etag"),
            id_scope=data.get("idScope"),
            certificates={
                name: CertificateEntry.from_json(name, value)
                for name, value in signing.items()
                if isinstance(value, dict)
            },
            raw=data,
        )

    def entry_holding(self, sha1_thumbprint: str) -> CertificateEntry | None:
        for entry in self.certificates.values():
            if entry.sha1_thumbprint and entry.sha1_thumbprint == sha1_thumbprint.upper():
                return entry
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "enabled": self.enabled,
            "type": self.type,
            "attestation": self.attestation_type,
            "etag": self.etag,
            "id_scope": self.id_scope,
            "certificates": {k: v.to_dict() for k, v in self.certificates.items()},
        }


@dataclass(frozen=True)
class Device:
    id: str
    display_name: str
    enabled: bool
    provisioned: bool
    simulated: bool
    template: str | None = None
    etag: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Device:
        return cls(
            id=data.get("id", ""),
            display_name=data.get("displayName", ""),
            enabled=bool(data.get("enabled", True)),
            provisioned=bool(data.get("provisioned", False)),
            simulated=bool(data.get("simulated", False)),
            template=data.get("template"),
            etag=data.get("etag"),
            raw=data,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "enabled": self.enabled,
            "provisioned": self.provisioned,
            "simulated": self.simulated,
            "template": self.template,
            "etag": self.etag,
        }
