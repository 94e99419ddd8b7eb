"""Airflow extensions of the package: sensors (and, later, notifiers and listeners)."""
