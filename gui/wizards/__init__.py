"""The wizards: technician (provisioning) and administrator (intermediate verification)."""
