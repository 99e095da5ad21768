"""Emulators of every outside service (IoT Central, Sectigo, DPS) and the instrument simulator.
They speak the real wire protocols on loopback, so demo mode and tests run the whole flow."""
