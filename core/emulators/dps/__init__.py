"""DPS emulator: the Device Provisioning Service's MQTT endpoint over TLS on a loopback
address, port 8883, deciding against the IoT Central emulator's enrollment groups."""

from certbench.core.emulators.dps.server import DPS_PORT, ConnectionRecord, DpsEmulator
from certbench.core.emulators.dps.service import CentralState, DpsService

__all__ = ["DPS_PORT", "CentralState", "ConnectionRecord", "DpsEmulator", "DpsService"]
