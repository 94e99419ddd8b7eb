"""Loaded by pytest before any conftest (``-p tests.airflow_env`` in pytest.ini).

Airflow reads its configuration when first imported, so the test session's Airflow home,
SQLite database and the package's storage root must be set before that. Everything lives
in one fresh temporary folder per session; nothing under the checkout's .local/ is touched.
"""

import os
import tempfile
from pathlib import Path

from tests.support.paths import PROJECT_ROOT

SESSION_DIR = Path(tempfile.mkdtemp(prefix="mlops-tests-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(SESSION_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{SESSION_DIR / 'airflow' / 'airflow.db'}",
        "MLOPS_LOCAL_DIR": str(SESSION_DIR / "local"),
        # Small batches keep the DAG tests fast; the contract's minimum is 100 rows.
        "MLOPS_SIMULATOR_ROWS_PER_DAY": "400",
        "MLOPS_LANDING_POKE_SECONDS": "1",
        # Tests land files and run at once; tests/test_ingestion_exact.py sets it to check the wait.
        "MLOPS_LANDING_QUIET_SECONDS": "0",
        # Retrainings run by the DAG tests fit the first 4 candidates of the search plan (both
        # families): they test promotion, monitoring and approval, not the search, which
        # test_training_models.py and test_reproducible_training.py run whole.
        "MLOPS_SEARCH_CANDIDATES": "4",
    }
)
(SESSION_DIR / "airflow").mkdir(parents=True, exist_ok=True)
