"""Check every audit stream's chain and say where it is broken.

    python -m include.audit verify [STREAM ...]

An edited entry no longer matches its hash (or, if its hash was recomputed, the next entry's
``prev``); a deleted entry leaves a gap in the sequence; a cut tail leaves key markers that
point past the last entry. The newest entries have no successor to betray them, so the chain is
also checked against every anchor in MLflow (``include/audit/anchor.py``): a version tag
``audit_anchor.<seq>`` that names another hash than entry ``<seq>`` has, or an entry that is not
there, is a rewritten entry or a cut tail. Exit status 1 if any stream has a problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from include import registry, storage
from include import settings as settings_module
from include.audit import anchor, chain

_ENTRY_NAME = re.compile(rf"^(\d{{{chain.SEQ_DIGITS}}})\.json$")


@dataclass
class StreamReport:
    stream: str
    entries: int = 0
    anchors: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def line(self) -> str:
        counted = (
            f"{self.entries} entries, {self.anchors} MLflow anchor{'' if self.anchors == 1 else 's'} checked"
        )
        if self.intact:
            return f"audit stream {self.stream}: {counted}, chain intact"
        return f"audit stream {self.stream}: {counted}, BROKEN\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


def _bodies(report: StreamReport, paths: list) -> dict[int, dict]:
    bodies = {}
    for path in paths:
        uri = storage.describe(path)
        named = _ENTRY_NAME.match(path.name)
        if not named:
            report.problems.append(f"{uri} is not an entry of the chain (names are {chain.entry_name(1)}...)")
            continue
        try:
            body = json.loads(storage.read_bytes(path))
        except ValueError:
            report.problems.append(f"entry {int(named[1])} ({uri}) is not valid JSON: it was edited")
            continue
        seq = int(named[1])
        if body.get("seq") != seq or body.get("stream") != report.stream:
            report.problems.append(
                f"entry {seq} ({uri}) says it is entry {body.get('seq')} of {body.get('stream')!r}: "
                "it was moved or copied"
            )
        elif body.get("hash") != chain.entry_hash(body):
            report.problems.append(f"entry {seq} ({uri}) was edited: its content no longer matches its hash")
        bodies[seq] = body
    return bodies


def _check_anchors(report: StreamReport, bodies: dict[int, dict], anchors) -> None:
    last = max(bodies, default=0)
    for model, version, seq, expected in anchors:
        where = f"anchor {registry.ANCHOR_TAG}{seq} on {model} v{version} (MLflow)"
        found = bodies.get(seq, {}).get("hash")
        if seq not in bodies:
            cut = f"the chain ends at {last}: its tail was cut" if seq > last else "it was deleted"
            report.problems.append(
                f"{where} records entry {seq} with hash {expected}, but entry {seq} is missing ({cut})"
            )
        elif found != expected:
            report.problems.append(
                f"{where} records entry {seq} with hash {expected}, but the trail's entry {seq} has hash "
                f"{found}: it was rewritten"
            )
    report.anchors = len(anchors)


def verify_stream(stream: str, settings: settings_module.Settings | None = None, anchors=()) -> StreamReport:
    """Check ``stream``'s chain, and its entries against ``anchors`` ((model, version, seq, sha256))."""
    report = StreamReport(stream)
    bodies = _bodies(report, chain.entry_paths(stream, settings))
    report.entries = len(bodies)
    last = max(bodies, default=0)
    missing = [seq for seq in range(1, last + 1) if seq not in bodies]
    if missing:
        report.problems.append(f"entries missing from the sequence: {_ranges(missing)} (deleted)")
    for seq in sorted(bodies):
        expected = chain.GENESIS if seq == 1 else bodies.get(seq - 1, {}).get("hash")
        if expected is not None and bodies[seq].get("prev") != expected:
            report.problems.append(
                f"entry {seq} does not follow entry {seq - 1}: its prev hash differs "
                f"(entry {seq - 1} was replaced)"
            )
    for marker in storage.list_files(chain.stream_dir(stream, settings) / "keys"):
        pointed = json.loads(storage.read_bytes(marker)).get("seq", 0)
        if pointed > last:
            report.problems.append(
                f"{storage.describe(marker)} records entry {pointed}, but the chain ends at {last}: "
                "its tail was cut"
            )
    _check_anchors(report, bodies, anchors)
    return report


def _ranges(numbers: list[int]) -> str:
    """``[2, 3, 4, 7]`` -> ``"2-4, 7"``."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def verify(
    streams: list[str] | None = None, settings: settings_module.Settings | None = None
) -> list[StreamReport]:
    """Every stream (or ``streams``), each against the anchors MLflow holds for it; a stream
    whose every entry is gone but whose anchors remain is reported too."""
    s = settings or settings_module.get()
    anchored = anchor.read(s)
    names = streams or sorted(set(chain.streams(s)) | set(anchored))
    return [verify_stream(name, s, anchored.get(name, [])) for name in names]
