"""Drift monitoring: reference profiles and drift statistics."""
