"""Parse time of each DAG file in a warm DagBag, next to Airflow's own example DAGs.

Warm means Airflow, the SDK and the package's light modules are already imported, as in
a long-running dag-processor; each file is then parsed several times and the median kept.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

REPEATS = 7


def _median_ms(path: Path) -> float | None:
    from airflow.dag_processing.dagbag import DagBag

    timings = []
    for _ in range(REPEATS):
        bag = DagBag(str(path), collect_dags=False)  # empty bag: process_file skips files it has seen
        start = time.perf_counter()
        bag.process_file(str(path))
        timings.append(time.perf_counter() - start)
        if bag.import_errors:
            return None
    return round(statistics.median(timings) * 1000, 2)


def run() -> dict:
    import airflow.example_dags
    from airflow.dag_processing.dagbag import DagBag

    from include.settings import PROJECT_ROOT

    ours = sorted((PROJECT_ROOT / "dags").glob("*.py"))
    examples = sorted(p for p in Path(airflow.example_dags.__file__).parent.glob("example_*.py"))
    DagBag(str(PROJECT_ROOT / "dags"))  # warm-up
    example_ms = [ms for ms in (_median_ms(p) for p in examples) if ms is not None]
    return {
        "peer": "Airflow's bundled example DAGs",
        "ours_ms": {p.name: _median_ms(p) for p in ours},
        "examples": {"files": len(example_ms), "median_ms": round(statistics.median(example_ms), 2),
                     "p90_ms": round(sorted(example_ms)[int(len(example_ms) * 0.9)], 2),
                     "max_ms": max(example_ms)},
    }
