"""Drift statistics: reference profiles, the drift engine, and Evidently's report."""
