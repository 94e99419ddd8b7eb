"""``python -m include.audit verify [STREAM ...]``: check the audit trail's hash chains."""

from __future__ import annotations

import sys

from include.audit.verify import verify
from include.errors import MlopsError


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "verify":
        print("usage: python -m include.audit verify [STREAM ...]", file=sys.stderr)
        return 2
    try:
        reports = verify(argv[1:] or None)
    except MlopsError as exc:  # the registry holding the anchors cannot be read
        print(f"cannot verify the audit trail against its MLflow anchors: {exc}", file=sys.stderr)
        return 1
    if not reports:
        print("the audit trail is empty: no stream to verify")
    for report in reports:
        print(report.line())
    return 0 if all(r.intact for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
