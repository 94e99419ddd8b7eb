"""Run every benchmark and print one JSON object keyed by benchmark name."""

import json
import sys

from bench import validation

if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps({"validation": validation.run(rows)}, indent=2))
