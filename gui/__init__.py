"""Certbench desktop application (PySide6): widgets and threads only; all work is in certbench.core."""
