"""Airflow extensions of the package: sensors, the audited approval operator (and, later, notifiers and listeners)."""
