"""Data files shipped with Certbench: Azure root certificates, icons, product catalogue example."""
