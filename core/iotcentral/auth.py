"""The Authorization header IoT Central takes, in its two forms, held so that the token
never shows in a repr, a log line or an exception."""

from __future__ import annotations

from dataclasses import dataclass, field

from certbench.core import secrets
from certbench.core.errors import ConfigError

API_TOKEN = "api-token"
BEARER = "bearer"
_SAS_PREFIX = "SharedAccessSignature "


@dataclass(frozen=True)
class ApiCredential:
    """`kind` is "api-token" (`SharedAccessSignature sr=...&sig=...&skn=...&se=...`, made in
    the application) or "bearer" (an Azure AD access token for https://apps.azureiotcentral.com)."""

    token: str = field(repr=False)
    kind: str = API_TOKEN

    def __post_init__(self) -> None:
        if self.kind not in (API_TOKEN, BEARER):
            raise ConfigError(f"Unknown IoT Central auth kind '{self.kind}'.", "Use api-token or bearer.")
        if not self.token or not self.token.strip():
            raise ConfigError("The IoT Central token is empty.", "Save it with: certbench config set-secret iotcentral-api-token")
        secrets.register_secret_value(self.token.strip())

    def header(self) -> str:
        """The header value, passed through unchanged when it already has its scheme word."""
        token = self.token.strip()
        if self.kind == API_TOKEN:
            return token if token.startswith(_SAS_PREFIX) else _SAS_PREFIX + token
        return token if token.lower().startswith("bearer ") else f"Bearer {token}"

    def __repr__(self) -> str:
        return f"ApiCredential(kind={self.kind!r}, token=***)"

    @classmethod
    def from_keyring(cls, kind: str = API_TOKEN) -> ApiCredential:
        token = secrets.require_secret(secrets.IOTCENTRAL_TOKEN, "IoT Central API token")
        return cls(token, kind)
