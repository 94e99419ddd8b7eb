"""Run every benchmark and print one JSON object keyed by benchmark name."""

import json
import sys

from bench import dag_parse, validation

if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps({"dag_parse": dag_parse.run(), "validation": validation.run(rows)}, indent=2))
