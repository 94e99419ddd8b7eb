"""Parse time of each DAG file in a warm DagBag, as a ratio to Airflow's own example DAGs.

Warm means Airflow, the SDK and the package's light modules are already imported, as in a
long-running dag-processor. In each of ``rounds`` rounds our files, then three of Airflow's
example DAGs, are parsed one after the other in the same process. A file's time is its minimum
over the rounds; the reference is the minimum over the rounds of the three examples' total (about
as long as our largest file); a file's ratio is its time over the reference.
tests/test_dag_files.py asserts a bound on that ratio with this same function.

Why it holds on a loaded machine:
- the time a parse spent runnable but waiting for a CPU (another process had it) is taken off
  its wall time: Linux counts it per thread in /proc/thread-self/schedstat. What remains is the
  parse's own work, plus any time it slept or waited on I/O (a ``time.sleep`` at module level
  still counts in full). Without that file (not Linux) plain wall time is used;
- the minimum is what load inflates least, and our files and the examples take turns, so they
  meet the same moments of load;
- the work itself still grows under load, about in proportion to its length (presumably cold
  caches each time another process had the CPU): measured beside other processes, an 8 ms
  parse grew by up to 35 %, 2-4 ms ones by 2-11 %. A reference about as long as our largest
  file grows alike, so the ratio stays put (0.94-1.03 for weekly_retraining.py, idle or loaded);
- every file is compiled once, into a temporary bytecode cache (``sys.pycache_prefix``), and
  loaded from it afterwards, as a dag-processor does with its __pycache__: otherwise, with
  PYTHONDONTWRITEBYTECODE set, our files would compile at every parse (about 1 ms for a large
  DAG file) while the installed examples load the .pyc shipped with Airflow.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

# Small, self-contained DAGs shipped with Airflow that use what our DAGs use: TaskFlow tasks,
# trigger-form Params and dynamic task mapping.
EXAMPLES = ("tutorial_taskflow_api.py", "example_params_ui_tutorial.py", "example_dynamic_task_mapping.py")
ROUNDS = 20
_SCHEDSTAT = "/proc/thread-self/schedstat"  # cpu time, run-queue wait, time slices (ns)


def example_dags() -> list[Path]:
    import airflow.example_dags

    folder = Path(airflow.example_dags.__file__).parent
    missing = [name for name in EXAMPLES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"Airflow's example DAGs {missing} are not in {folder}: pick others in "
            "bench/dag_parse.py EXAMPLES"
        )
    return [folder / name for name in EXAMPLES]


class _Clock:
    """Wall time minus the time the thread that made it waited on a run queue, in seconds."""

    def __init__(self):
        try:
            self._fd = os.open(_SCHEDSTAT, os.O_RDONLY)  # this thread's, for as long as it is open
        except OSError:
            self._fd = None
            return
        try:
            self._waited()
        except (OSError, IndexError, ValueError):
            self.close()

    @property
    def exact(self) -> bool:
        """Whether run-queue waits are known (Linux); otherwise time() is plain wall time."""
        return self._fd is not None

    def _waited(self) -> float:
        if self._fd is None:
            return 0.0
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def time(self, work, *args) -> float:
        # Reads nested inside the wall-time window: every wait they count happened within it.
        start = time.perf_counter()
        waited = self._waited()
        work(*args)
        waited = self._waited() - waited
        return time.perf_counter() - start - waited

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextmanager
def _bytecode_cache(folder: str):
    saved = sys.pycache_prefix, sys.dont_write_bytecode
    sys.pycache_prefix, sys.dont_write_bytecode = folder, False
    try:
        yield
    finally:
        sys.pycache_prefix, sys.dont_write_bytecode = saved


def _parse(path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(path), collect_dags=False)  # empty bag: process_file skips files it has seen
    bag.process_file(str(path))
    if bag.import_errors:
        raise RuntimeError(f"{path.name} does not import cleanly: {bag.import_errors}")


def measure(paths: Iterable[Path], rounds: int = ROUNDS) -> dict:
    """Each file's minimum parse time (ms) over ``rounds`` rounds, the examples' minimums, the
    reference (the examples' smallest total in a round) and each file's ratio to it. A file that
    does not import cleanly raises RuntimeError with Airflow's import error."""
    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"file names must be unique: {names}")
    clock = _Clock()
    method = f"minimum over {rounds} rounds, " + (
        f"wall time minus run-queue wait ({_SCHEDSTAT})" if clock.exact else "wall time"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="dag-parse-pycache-") as folder, _bytecode_cache(folder):
            examples = example_dags()
            files = paths + examples
            for path in files:  # warm-up: first imports, bytecode
                _parse(path)
            best = dict.fromkeys(files, float("inf"))
            reference = float("inf")
            for _ in range(rounds):
                examples_total = 0.0
                for path in files:
                    seconds = clock.time(_parse, path)
                    best[path] = min(best[path], seconds)
                    if path in examples:
                        examples_total += seconds
                reference = min(reference, examples_total)
    finally:
        clock.close()
    return {
        "method": method,
        "examples_ms": {p.name: round(best[p] * 1000, 2) for p in examples},
        "reference_ms": round(reference * 1000, 2),
        "ours_ms": {p.name: round(best[p] * 1000, 2) for p in paths},
        "ratio": {p.name: round(best[p] / reference, 2) for p in paths},
    }


def run() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    from include.settings import PROJECT_ROOT

    dags = PROJECT_ROOT / "dags"
    DagBag(str(dags))  # warm-up: Airflow, the SDK and our light modules
    return {"peer": "Airflow's example DAGs " + ", ".join(EXAMPLES), **measure(sorted(dags.glob("*.py")))}
