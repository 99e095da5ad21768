"""Reusable widgets: banners, status labels, secret fields and the dashboard's panels."""
