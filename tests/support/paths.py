"""Where the checkout and the files the tests read are, wherever pytest was started from."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "include" / "contracts"
DAGS_DIR = PROJECT_ROOT / "dags"
