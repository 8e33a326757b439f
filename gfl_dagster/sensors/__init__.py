"""Sensors: change capture and the freshness probe."""
