"""Registry schema revisions, oldest first (file names start with their order)."""
