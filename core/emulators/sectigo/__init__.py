"""Sectigo Certificate Manager emulator (device-certificate API, OAuth2 token endpoint)."""

from certbench.core.emulators.sectigo.app import FIRST_PROFILE_ID, TOKEN_PATH, EmulatedProfile, SectigoEmulator
from certbench.core.emulators.sectigo.run import RunningSectigoEmulator, run_emulator, start_emulator

__all__ = ["FIRST_PROFILE_ID", "TOKEN_PATH", "EmulatedProfile", "RunningSectigoEmulator", "SectigoEmulator",
           "run_emulator", "start_emulator"]
