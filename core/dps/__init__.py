"""Registration check: register a device with DPS through the real azure-iot-device client
(see register.py); the registration-id rules DPS applies (rules.py)."""

from certbench.core.dps.register import RegistrationError, RegistrationOutcome, register_with_dps

__all__ = ["RegistrationError", "RegistrationOutcome", "register_with_dps"]
