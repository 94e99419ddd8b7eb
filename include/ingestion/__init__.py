"""Nightly ingestion: read a landing partition, validate it against its contract feed,
commit valid rows to ``curated/`` and invalid rows to ``quarantine/`` with a report."""
