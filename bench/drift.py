"""The hourly drift check: our engine from a stored reference profile next to Evidently 0.7's
DataDriftPreset on the raw reference, on the same data in the same run.

1,000,000 reference rows and 100,000 current rows of 20 numeric and 5 categorical synthetic
columns (8 of them drifted in the current window, the rest not; nulls in two). Every step runs in
a fresh child process (``python -m bench.drift <step> <dir>``) that reads its inputs from
Parquet files the parent wrote. Peak memory is the child's peak resident size, ``VmHWM`` of
/proc/self/status (the high-water mark of the process image since its exec); the resident size
right after the imports is reported too, as the baseline the step starts from. ``ru_maxrss``
is reported next to it but is not the measure: Linux carries the high-water mark of the
forked parent's image over the exec into it, so it shows the parent's size when that is larger.

Steps: ``build`` profiles the reference once whole and once as 10 partitions of 100,000 rows
merged (what the weekly job does per landed day), and stores the merged profile as JSON;
``engine`` loads that JSON and judges the current window (the hourly path); ``evidently`` runs
``Report([DataDriftPreset(...)])`` on the raw reference and current frames and reads each
column's method, score and verdict from the snapshot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REFERENCE_ROWS = 1_000_000
CURRENT_ROWS = 100_000
PARTITIONS = 10
GOALS = {
    "speedup_at_least": 50,
    "memory_share_at_most": 0.1,
    "verdicts_identical_at_least": 0.99,
    "statistic_tolerance": "max(1 % relative, 0.002 absolute)",
}

NUMERIC = [f"n{i:02d}" for i in range(1, 21)]
CATEGORICAL = [f"c{i}" for i in range(1, 6)]
LEVELS = {
    "c1": [f"a{i}" for i in range(5)],
    "c2": [f"b{i}" for i in range(10)],
    "c3": ["w", "x", "y", "z"],
    "c4": [f"d{i:02d}" for i in range(50)],
    "c5": ["yes", "no"],
}
# Columns whose current window is drifted, and how (see _frame).
DRIFTED = {
    "n02": "mean +0.3 std",
    "n04": "scale x1.2",
    "n08": "range 0..100 -> 0..120",
    "n10": "Poisson 3 -> 3.6",
    "n13": "mean +0.15 std",
    "n15": "share of ones 0.3 -> 0.5",
    "n20": "std x1.5 (judged by PSI)",
    "c3": "shares 40/30/20/10 -> 25/25/25/25",
}

_CONTRACT = """\
name: bench_drift
description: Synthetic columns for the drift benchmark.
primary_key: [id]
event_timestamp: ts
columns:
  id: {dtype: string, role: id}
  ts: {dtype: timestamp, role: event_timestamp}
%(numeric)s
%(categorical)s
  y: {dtype: int, role: target, allowed: [0, 1]}
labels: {column: y, delivery: inline}
monitoring:
  critical_features: [n02]
  drift_share: 0.3
  columns:
    n20: {method: psi}
"""


def _contract_text() -> str:
    ints = {"n09", "n10", "n11", "n14", "n15", "n16"}
    numeric = "\n".join(
        f"  {n}: {{dtype: {'int' if n in ints else 'float'}, nullable: true}}" for n in NUMERIC
    )
    categorical = "\n".join(
        f"  {c}: {{dtype: category, allowed: {json.dumps(LEVELS[c])}}}" for c in CATEGORICAL
    )
    return _CONTRACT % {"numeric": numeric, "categorical": categorical}


def _frame(rows: int, drifted: bool, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    d = drifted
    columns = {
        "n01": rng.normal(0, 1, rows),
        "n02": rng.normal(50 + (3 if d else 0), 10, rows),
        "n03": rng.lognormal(10, 0.6, rows).round(2),
        "n04": (rng.lognormal(10, 0.6, rows) * (1.2 if d else 1)).round(2),
        "n05": rng.exponential(2, rows),
        "n06": rng.gamma(2, 3, rows) + (0.05 * 4.24 if d else 0),  # +0.05 std: moves, below the threshold
        "n07": rng.uniform(0, 100, rows),
        "n08": rng.uniform(0, 120 if d else 100, rows),
        "n09": rng.poisson(3, rows),
        "n10": rng.poisson(3.6 if d else 3, rows),
        "n11": np.clip(rng.normal(680, 60, rows).round(), 300, 850).astype(np.int64),
        "n12": np.where(rng.random(rows) < 0.05, np.nan, rng.beta(2, 5, rows)),
        "n13": np.where(rng.random(rows) < 0.02, np.nan, rng.normal(10 + (0.3 if d else 0), 2, rows)),
        "n14": (rng.random(rows) < 0.3).astype(np.int64),
        "n15": (rng.random(rows) < (0.5 if d else 0.3)).astype(np.int64),
        "n16": rng.choice([1, 2, 3], rows, p=[0.5, 0.3, 0.2]),
        "n17": rng.standard_t(3, rows),
        "n18": np.where(rng.random(rows) < 0.4, rng.normal(-2, 0.5, rows), rng.normal(3, 1, rows)),
        "n19": (rng.pareto(2.5, rows) + 1) * 1000,
        "n20": rng.normal(0, 1.5 if d else 1, rows),
    }
    zipf = 1 / np.arange(1, 11)
    columns |= {
        "c1": rng.choice(LEVELS["c1"], rows),
        "c2": rng.choice(LEVELS["c2"], rows, p=zipf / zipf.sum()),
        "c3": rng.choice(LEVELS["c3"], rows, p=[0.25] * 4 if d else [0.4, 0.3, 0.2, 0.1]),
        "c4": rng.choice(LEVELS["c4"], rows),
        "c5": rng.choice(LEVELS["c5"], rows, p=[0.2, 0.8]),
    }
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------------- children
def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def _ru_maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _child(step: str, directory: Path) -> dict:
    import time

    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (read_parquet's engine: part of the baseline)

    from include import contract as contract_module

    if step == "evidently":
        import evidently
        import evidently.presets  # noqa: F401

        from include.drift.report import evidently_columns
    else:
        from include.drift.engine import detect
        from include.drift.profile import Profile, merge_all, profile
    out = {"rss_after_imports_mb": round(_status_mb("VmRSS"), 1)}
    contract = contract_module.load("bench_drift", directory / "contracts")
    clock = time.perf_counter

    if step == "build":
        t = clock()
        reference = pd.read_parquet(directory / "reference.parquet")
        out["read_reference_seconds"] = round(clock() - t, 3)
        t = clock()
        profile(reference, contract)
        out["whole_seconds"] = round(clock() - t, 3)
        size = len(reference) // PARTITIONS
        parts, seconds = [], []
        for n in range(PARTITIONS):
            t = clock()
            parts.append(profile(reference.iloc[n * size : (n + 1) * size], contract, partition=f"part={n}"))
            seconds.append(clock() - t)
        t = clock()
        merged = merge_all(parts)
        out["merge_seconds"] = round(clock() - t, 3)
        out["partition_seconds"] = {
            "each_max": round(max(seconds), 3),
            "sum": round(sum(seconds), 3),
            "each_mean": round(sum(seconds) / len(seconds), 3),
        }
        t = clock()
        text = json.dumps(merged.to_dict())
        (directory / "profile.json").write_text(text)
        out["write_json_seconds"] = round(clock() - t, 3)
        out["profile_json_mb"] = round(len(text) / 2**20, 2)
    elif step == "engine":
        t = clock()
        current = pd.read_parquet(directory / "current.parquet")
        out["read_current_seconds"] = round(clock() - t, 3)
        out["rss_after_reading_window_mb"] = round(_status_mb("VmRSS"), 1)
        t = clock()
        reference = Profile.from_dict(json.loads((directory / "profile.json").read_text()))
        out["load_profile_seconds"] = round(clock() - t, 3)
        t = clock()
        result = detect(reference, current, contract)
        out["detect_seconds"] = round(clock() - t, 3)
        out["seconds"] = round(out["load_profile_seconds"] + out["detect_seconds"], 3)
        t = clock()
        detect(reference, current, contract)
        out["detect_again_seconds"] = round(clock() - t, 3)  # the profile's distributions are cached
        out["columns"] = {
            c.column: {"method": c.method, "statistic": c.statistic, "drifted": c.drifted}
            for c in result.columns
        }
        out["dataset_drift"], out["share_drifted"] = result.dataset_drift, result.share_drifted
        out["quality_issues"] = [f"{q.column}: {q.check}" for q in result.quality]
    elif step == "evidently":
        t = clock()
        reference = pd.read_parquet(directory / "reference.parquet")
        current = pd.read_parquet(directory / "current.parquet")
        out["read_inputs_seconds"] = round(clock() - t, 3)
        out["rss_after_reading_inputs_mb"] = round(_status_mb("VmRSS"), 1)
        t = clock()
        columns = evidently_columns(reference, current, contract)
        out["seconds"] = round(clock() - t, 3)
        out["columns"] = {
            name: {"method": c.method, "statistic": c.statistic, "drifted": c.drifted}
            for name, c in columns.items()
        }
    else:
        raise SystemExit(f"unknown step {step!r}")
    out["peak_rss_mb"] = round(_status_mb("VmHWM"), 1)
    out["ru_maxrss_mb"] = round(_ru_maxrss_mb(), 1)
    return out


def _measure(step: str, directory: Path) -> dict:
    from include.settings import PROJECT_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "bench.drift", step, str(directory)],
        check=True,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- parent
def _compare(ours: dict, theirs: dict) -> dict:
    names = sorted(theirs)
    same = [n for n in names if ours[n]["drifted"] == theirs[n]["drifted"]]
    methods = [n for n in names if ours[n]["method"] == theirs[n]["method"]]
    absolute = {n: abs(ours[n]["statistic"] - theirs[n]["statistic"]) for n in names}
    relative = {
        n: absolute[n] / abs(theirs[n]["statistic"]) if theirs[n]["statistic"] else 0.0 for n in names
    }
    within = [n for n in names if absolute[n] <= max(0.01 * abs(theirs[n]["statistic"]), 0.002)]
    worst = max(names, key=lambda n: absolute[n] / max(0.01 * abs(theirs[n]["statistic"]), 0.002))
    return {
        "columns": len(names),
        "verdicts_identical": len(same),
        "verdicts_identical_share": round(len(same) / len(names), 4),
        "methods_identical": len(methods),
        "statistics_within_tolerance": len(within),
        "max_abs_difference": round(max(absolute.values()), 6),
        "max_rel_difference": round(max(relative.values()), 6),
        "worst_column": {
            "column": worst,
            "ours": ours[worst]["statistic"],
            "evidently": theirs[worst]["statistic"],
        },
        "disagreements": [n for n in names if n not in same],
        "drifted_evidently": [n for n in names if theirs[n]["drifted"]],
        "drifted_ours": [n for n in names if ours[n]["drifted"]],
        "per_column": {
            n: {
                "method": ours[n]["method"],
                "ours": round(ours[n]["statistic"], 6),
                "evidently": round(theirs[n]["statistic"], 6),
                "drifted": ours[n]["drifted"],
            }
            for n in names
        },
    }


def run(reference_rows: int = REFERENCE_ROWS, current_rows: int = CURRENT_ROWS) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        directory = Path(tmp)
        (directory / "contracts").mkdir()
        (directory / "contracts" / "bench_drift.yaml").write_text(_contract_text())
        _frame(reference_rows, False, 1).to_parquet(directory / "reference.parquet", index=False)
        _frame(current_rows, True, 2).to_parquet(directory / "current.parquet", index=False)
        build = _measure("build", directory)
        engine = _measure("engine", directory)
        evidently = _measure("evidently", directory)
    comparison = _compare(engine.pop("columns"), evidently.pop("columns"))
    speedup = evidently["seconds"] / engine["seconds"]
    memory_share = engine["peak_rss_mb"] / evidently["peak_rss_mb"]
    above_imports = (engine["peak_rss_mb"] - engine["rss_after_imports_mb"]) / (
        evidently["peak_rss_mb"] - evidently["rss_after_imports_mb"]
    )
    return {
        "reference_rows": reference_rows,
        "current_rows": current_rows,
        "columns": {
            "numeric": len(NUMERIC),
            "categorical": len(CATEGORICAL),
            "drifted_by_construction": DRIFTED,
        },
        "peer": "Evidently 0.7 Report([DataDriftPreset]) on the raw reference",
        "engine": engine,
        "evidently": evidently,
        "profile_build": build,
        "agreement": comparison,
        "speedup": round(speedup, 1),
        "peak_memory_share": round(memory_share, 3),
        "peak_memory_above_imports_share": round(above_imports, 3),
        "goals": GOALS
        | {
            "met": {
                "speedup": speedup >= GOALS["speedup_at_least"],
                "memory": memory_share <= GOALS["memory_share_at_most"],
                "verdicts": comparison["verdicts_identical_share"] >= GOALS["verdicts_identical_at_least"],
                "statistics": comparison["statistics_within_tolerance"] == comparison["columns"],
            }
        },
    }


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], Path(sys.argv[2]))))
