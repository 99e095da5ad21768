"""IoT Central emulator: the data-plane REST API over HTTPS on loopback, faithful to
/shared/reference/iot-central-and-dps.md, with state the DPS emulator reads."""

from certbench.core.emulators.iotcentral.app import IoTCentralApp
from certbench.core.emulators.iotcentral.run import RunningEmulator, run_emulator, start_emulator
from certbench.core.emulators.iotcentral.state import IoTCentralState, Refusal, VerifiedCA

__all__ = ["IoTCentralApp", "IoTCentralState", "Refusal", "RunningEmulator", "VerifiedCA", "run_emulator", "start_emulator"]
