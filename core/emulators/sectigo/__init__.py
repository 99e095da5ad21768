"""Sectigo Certificate Manager emulator (device-certificate API, OAuth2 token endpoint)."""

from certbench.core.emulators.sectigo.app import FIRST_PROFILE_ID, TOKEN_PATH, EmulatedProfile, SectigoEmulator

__all__ = ["FIRST_PROFILE_ID", "TOKEN_PATH", "EmulatedProfile", "SectigoEmulator"]
