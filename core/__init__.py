"""Certbench core: everything that is not Qt. Every workflow here is callable from the CLI,
the GUI and tests alike."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("certbench")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
