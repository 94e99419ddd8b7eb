"""``python -m include.contract draft PATH --name NAME [...]``: print a drafted contract.

The YAML goes to stdout (redirect it to ``NAME.yaml``); what the draft could not place and what a
person must look at go to stderr as well. Exit status 0 with a draft, 2 when the files or the
flags do not allow one (the message says which flag to pass or what to fix).
"""

from __future__ import annotations

import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m include.contract", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    draft = commands.add_parser(
        "draft",
        help="draft a contract from landed files",
        description="Read a landed file or a folder of them (CSV or Parquet, at any depth) and print a "
        "commented YAML contract that loads as it is. Lines marked CHECK are guesses to confirm.",
    )
    draft.add_argument("path", metavar="PATH", help="a landed file, or a folder of them (read recursively)")
    draft.add_argument("--name", required=True, help="the dataset's name, a lower-case identifier")
    draft.add_argument("--target", metavar="COL", help="the outcome column (header or contract name)")
    draft.add_argument(
        "--favorable",
        choices=("positive", "negative"),
        help="which class is the outcome a person wants (default: negative, with a CHECK comment)",
    )
    draft.add_argument(
        "--timestamp", metavar="COL", help="when each event happened (default: the first timestamp column)"
    )
    draft.add_argument(
        "--id",
        metavar="COL",
        nargs="+",
        dest="ids",
        help="the primary key, one column or several (default: a unique column whose name says id)",
    )
    draft.add_argument("--protected", metavar="COL", nargs="+", default=[], help="protected attributes")
    draft.add_argument(
        "--labels",
        metavar="PATH",
        help="a separate label feed's files (key, when the outcome became known, the outcome)",
    )
    draft.add_argument(
        "--timezone",
        default=os.environ.get("MLOPS_TIMEZONE") or "UTC",
        help="the zone of the dt= partitions, to measure freshness (default: MLOPS_TIMEZONE, else UTC)",
    )
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from include.contract.draft import DraftError, draft

    try:
        result = draft(
            args.path,
            args.name,
            target=args.target,
            favorable=args.favorable,
            timestamp=args.timestamp,
            ids=args.ids,
            protected=args.protected,
            labels=args.labels,
            timezone=args.timezone,
        )
    except DraftError as exc:
        print(f"draft: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(result.text)
    for message in result.messages:
        print(f"draft: {message}", file=sys.stderr)
    print(
        f"draft: {result.text.count('CHECK')} guesses marked CHECK to confirm before using the contract",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
