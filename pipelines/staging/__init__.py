"""Staging: which build runs in staging, and the record of its tests."""
