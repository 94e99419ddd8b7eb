"""Draft a contract from landed files (``python -m include.contract draft PATH --name NAME``)."""

from include.contract.draft.plan import MARKERS, Draft, DraftError, draft, profile, read_sample

__all__ = ["Draft", "DraftError", "MARKERS", "draft", "profile", "read_sample"]
