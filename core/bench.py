"""The bench environment: everything a unit workflow talks to, built once from Settings and
shared by every workflow running on this workstation (CLI, GUI, demo mode, tests).

    env = BenchEnv.from_settings(load_settings(), operator="jdoe")
    try:
        outcome = provision_unit(env, scan, port="COM7")
    finally:
        env.close()

One `BenchEnv` serves N instruments at once: the registry, the issuer and the IoT Central
client are thread-safe; each workflow opens its own instrument connection through
`open_instrument(port)`; workstation-made keys live only in `keys` (process memory).
"""

from __future__ import annotations

import getpass
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from certbench.core.config import Settings
from certbench.core.errors import ConfigError
from certbench.core.instrument.client import Instrument
from certbench.core.instrument.transport import DEFAULT_BAUD, SerialTransport, Transport
from certbench.core.pki.base import Issuer
from certbench.core.registry import Actor, Registry, open_registry
from certbench.core.x509.keys import PrivateKey

TransportOpener = Callable[[str], Transport]


class WorkstationKeys:
    """Private keys made on the workstation for units whose instrument cannot make its own,
    held in process memory only (never on disk, never logged) from key generation until the
    instrument has committed them. Keyed by (unit id, generation). A crash loses them: see
    docs/unit-provisioning.md, "A workstation key lost after ordering"."""

    def __init__(self) -> None:
        self._keys: dict[tuple[int, int], PrivateKey] = {}
        self._lock = threading.Lock()

    def put(self, unit_id: int, generation: int, key: PrivateKey) -> None:
        with self._lock:
            self._keys[(unit_id, generation)] = key

    def get(self, unit_id: int, generation: int) -> PrivateKey | None:
        with self._lock:
            return self._keys.get((unit_id, generation))

    def discard(self, unit_id: int, generation: int | None = None) -> None:
        with self._lock:
            for k in [k for k in self._keys if k[0] == unit_id and (generation is None or k[1] == generation)]:
                del self._keys[k]

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __repr__(self) -> str:  # never the keys themselves
        return f"WorkstationKeys({len(self)} held)"


def default_operator() -> str:
    try:
        return getpass.getuser() or "operator"
    except Exception:  # noqa: BLE001 - no user name in this environment (service account, container)
        return "operator"


@dataclass
class BenchEnv:
    settings: Settings
    registry: Registry
    issuer: Issuer
    central: Any  # certbench.core.iotcentral.IoTCentralClient, or None when not configured
    operator: str
    transport_opener: TransportOpener | None = None
    baud: int = DEFAULT_BAUD
    keys: WorkstationKeys = field(default_factory=WorkstationKeys)
    # Called with (instrument, port) once a workflow has an instrument; tests and the demo use it.
    response_timeout: float = 1.0
    _owned: list[Any] = field(default_factory=list, repr=False)

    @property
    def actor(self) -> Actor:
        return Actor(self.operator, self.settings.bench.workstation or "bench")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        operator: str | None = None,
        registry: Registry | None = None,
        issuer: Issuer | None = None,
        central: Any = None,
        transport_opener: TransportOpener | None = None,
        baud: int | None = None,
    ) -> BenchEnv:
        """Whatever is not given is built from `settings`: the registry (`[registry] url`,
        default the local SQLite file), the issuer (`issuer_from_settings`), the IoT Central
        client (`[iotcentral]` + the API token in the keyring; None when no application is
        configured), the line speed (`[bench] instrument_baud`). Parts built here are closed by
        `close()`."""
        owned: list[Any] = []
        try:
            if registry is None:
                registry = open_registry(settings.registry.url or None)
                owned.append(registry)
            if issuer is None:
                from certbench.core.pki.factory import issuer_from_settings

                issuer = issuer_from_settings(settings)
                owned.append(issuer)
            if central is None and (settings.iotcentral.base_url or settings.iotcentral.subdomain):
                from certbench.core.iotcentral import IoTCentralClient

                central = IoTCentralClient.from_settings(settings.iotcentral)
                owned.append(central)
        except BaseException:
            for item in owned:
                _close(item)
            raise
        return cls(settings, registry, issuer, central, operator or default_operator(),
                   transport_opener=transport_opener,
                   baud=settings.bench.instrument_baud if baud is None else baud, _owned=owned)

    def require_central(self) -> Any:
        if self.central is None:
            raise ConfigError(
                "No IoT Central application is configured, so Certbench cannot check that the device name is free "
                "and that the product's intermediate CA is verified.",
                "Set [iotcentral] subdomain (or base_url) in Settings and store the API token "
                "(certbench config set-secret iotcentral-api-token).",
            )
        return self.central

    def open_transport(self, port: str) -> Transport:
        if self.transport_opener is not None:
            return self.transport_opener(port)
        return SerialTransport(port, self.baud)

    def open_instrument(self, port: str, **kwargs: Any) -> Instrument:
        """A connection to the instrument on `port`, not yet greeted (call `hello()`)."""
        return Instrument(self.open_transport(port), baud=self.baud, response_timeout=self.response_timeout, **kwargs)

    def close(self) -> None:
        for item in reversed(self._owned):
            _close(item)
        self._owned.clear()

    def __enter__(self) -> BenchEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close(item: Any) -> None:
    close = getattr(item, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # noqa: BLE001 - closing is best effort; the first error matters
            pass


__all__ = ["BenchEnv", "TransportOpener", "WorkstationKeys", "default_operator"]
