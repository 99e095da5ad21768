"""DPS's registration-id rules, shared by the workstation check and the DPS emulator."""

from __future__ import annotations

import re

REGISTRATION_ID = re.compile(r"^[A-Za-z0-9\-._:]*[A-Za-z0-9-]$")
# The registration id is the leaf's subject CN with X.509, and a CN holds at most 64 characters.
MAX_X509_REGISTRATION_ID = 64


def registration_id_problem(registration_id: str) -> str | None:
    """Why `registration_id` breaks DPS's rules, or None."""
    if not registration_id:
        return "The registration id is empty."
    if len(registration_id) > MAX_X509_REGISTRATION_ID:
        return (f"The registration id has {len(registration_id)} characters; with X.509 it is the certificate's "
                f"CN and may have at most {MAX_X509_REGISTRATION_ID}.")
    if not REGISTRATION_ID.match(registration_id):
        return ("The registration id may hold only letters, digits and - . _ : and must end with a letter, "
                "a digit or -.")
    return None
