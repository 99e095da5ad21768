"""The instrument simulator: reference implementation of docs/instrument-protocol.md."""

from certbench.core.emulators.instrument.device import DeviceConfig, RegisterHandler
from certbench.core.emulators.instrument.line import Faults, LineConfig
from certbench.core.emulators.instrument.simulator import SimulatedInstrument

__all__ = ["DeviceConfig", "Faults", "LineConfig", "RegisterHandler", "SimulatedInstrument"]
