"""Workflows: multi-step operations over the services (CA verification, unit provisioning,
decommission), callable from the CLI, the GUI and tests, reporting `ProgressEvent`s."""

from certbench.core.workflows.progress import AuditHook, ProgressCallback, ProgressEvent, ProgressReporter

__all__ = ["AuditHook", "ProgressCallback", "ProgressEvent", "ProgressReporter"]
