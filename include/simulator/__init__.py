"""Deterministic, seeded stand-in for the client's systems.

``credit`` and ``breast_cancer`` generate DataFrames (pure, no storage); ``land`` writes
them into the landing and capture zones through ``include.storage``, byte for byte the
same for the same seed and day. Import the submodules directly; this package imports
nothing heavy so that importing it stays cheap.
"""
