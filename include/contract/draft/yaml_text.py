"""YAML text for the draft: scalars that read back as the value, and comments wrapped to width."""

from __future__ import annotations

import json

import numpy as np

from include.contract import _yaml_scalar


def scalar(value) -> str:
    """A YAML scalar that reads back as ``value``, safe inside a flow list or after a key."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return number(float(value))
    text = _yaml_scalar(str(value))
    if not text.startswith('"') and (set(text) & set(",[]{}#&*!|>'%@`") or text[:1] in "-?:"):
        text = json.dumps(str(value), ensure_ascii=False)
    return text


def number(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
        exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
        text = f"{mantissa}e{exponent}"  # PyYAML reads 1e-05 as text, 1.0e-05 as a number
    return text


def flow(values) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def wrap(text: str, indent: str = "", width: int = 100) -> list[str]:
    """``text`` as comment lines of at most ``width`` characters."""
    lines, line = [], ""
    for word in _comment(text).split(" "):
        if line and len(indent) + 2 + len(line) + 1 + len(word) > width:
            lines.append(f"{indent}# {line}")
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(f"{indent}# {line}")
    return lines


def fold(lines: list[str], width: int = 110) -> list[str]:
    """A key line whose trailing comment runs past ``width`` gets the comment on lines above it."""
    folded = []
    for line in lines:
        key, sep, comment = line.partition("   # ")
        if len(line) <= width or not sep or key.lstrip().startswith("#"):
            folded.append(line)
            continue
        indent = key[: len(key) - len(key.lstrip())]
        folded += wrap(comment, indent) + [key]
    return folded


def percent(x: float) -> str:
    return f"{x:.1%}" if x >= 0.001 or x == 0 else f"{x:.3%}"
