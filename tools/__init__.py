"""Maintenance scripts for the repository (run through ``python3 tasks.py``)."""
