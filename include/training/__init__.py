"""Retraining: training-set assembly from curated partitions, splits, and (later) models."""
