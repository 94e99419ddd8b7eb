"""Run the benchmarks and print one JSON object keyed by benchmark name.

Usage: python -m bench [NAME ...] [ROWS]
  NAME: dag_parse, validation, training, retraining, drift (default: all of these), detection
        (about 10 minutes), unreachable_registry (about 5 minutes), promotion (about 14 s a
        seed), health (a few minutes) and reasons (about a minute): only when named
  ROWS: validation batch size (1,000,000), retraining's matured rows (500,000), detection's
        scoring calls an hour (8,000; 0: one per application, 250 an hour), health's days of
        history (365) and promotion's seeds (20)
Airflow logs to stdout; while the benchmarks run, file descriptor 1 points at stderr so
that stdout carries only the JSON.
"""

import json
import os
import sys

from bench import (
    dag_parse,
    detection,
    drift,
    health,
    promotion,
    reasons,
    retraining,
    training,
    unreachable_registry,
    validation,
)

OPT_IN = {
    "detection",
    "unreachable_registry",
    "promotion",
    "health",
    "reasons",
}  # too long for the default set: run only when named


def main() -> None:
    args = sys.argv[1:]
    rows = int(args.pop()) if args and args[-1].isdigit() else None
    runners = {
        "dag_parse": dag_parse.run,
        "validation": lambda: validation.run(rows or 1_000_000),
        "training": training.run,
        "retraining": lambda: retraining.run(rows or 500_000),
        "drift": drift.run,
        "detection": lambda: detection.run(detection.SCORING_CALLS_PER_HOUR if rows is None else rows),
        "unreachable_registry": unreachable_registry.run,
        "promotion": lambda: promotion.run(rows or promotion.SEEDS),
        "health": lambda: health.run(rows or health.DAYS),
        "reasons": reasons.run,
    }
    unknown = set(args) - set(runners)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {sorted(runners)}")
    stdout = os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        result = {
            name: runner()
            for name, runner in runners.items()
            if name in args or (not args and name not in OPT_IN)
        }
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
