"""Run every benchmark and print one JSON object keyed by benchmark name.

Usage: python -m bench [ROWS]   (ROWS of the validation batch, default 1,000,000)
Airflow logs to stdout; while the benchmarks run, file descriptor 1 points at stderr so
that stdout carries only the JSON.
"""

import json
import os
import sys

from bench import dag_parse, validation


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    stdout = os.dup(1)
    sys.stdout.flush()
    os.dup2(2, 1)
    try:
        result = {"dag_parse": dag_parse.run(), "validation": validation.run(rows)}
    finally:
        sys.stdout.flush()
        os.dup2(stdout, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
