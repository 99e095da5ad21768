"""The instrument link: framing, protocol messages, transports, port discovery and the
host-side client. The specification is docs/instrument-protocol.md."""

from certbench.core.instrument.client import Instrument, ProvisionResult
from certbench.core.instrument.protocol import Alg, Capability, HelloInfo, Result, Store

__all__ = ["Alg", "Capability", "HelloInfo", "Instrument", "ProvisionResult", "Result", "Store"]
