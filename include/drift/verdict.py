"""The package's own verdict on the first screen of an Evidently report, and why Evidently's
numbers below it may differ.

Evidently's headline applies its rule (the share of drifted columns, the model's score counted
among them, no correction for testing many columns) to its statistics on a sample of the
reference rows; the package decides from its own engine (``include.drift.engine``): the share of
drifted *features*, or any critical feature alone, p-values adjusted with Benjamini-Hochberg,
against the reference profile of every training row. So a window that triggers a retraining on
one critical feature can read "Dataset Drift is NOT detected" in Evidently's headline, and a
column's statistic differs by sampling. The banner says which verdict the pipeline
acted on, the rule that fired, and each column's two statistics side by side.
"""

from __future__ import annotations

from html import escape

from include.contract import Contract

CELL = "text-align: left; padding: 1px 12px 1px 0;"  # Evidently's page styles table cells its own way


def _number(value) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return escape(str(value))


def rule_fired(contract: Contract, result) -> str:
    """In words: why the package calls this window drifted, or not."""
    m = contract.monitoring
    share = (
        f"{result.share_drifted:.0%} of {len(result.columns)} features drifted (limit {m.drift_share:.0%})"
    )
    if result.data_quality_incident:
        issues = ", ".join(sorted({f"{q.check} in {q.column}" for q in result.quality}))
        return (
            f"data-quality incident ({issues}): the window alerts, and drift on broken data retrains nothing"
        )
    if result.critical_drifted:
        return f"critical feature{'s' if len(result.critical_drifted) > 1 else ''} " + (
            f"{', '.join(result.critical_drifted)} drifted (one alone is dataset drift); {share}"
        )
    if result.dataset_drift:
        return share
    return f"no critical feature drifted and {share}"


def banner(contract: Contract, result, evidently: dict, *, reference_rows: int, sample_rows: int) -> str:
    """The HTML block: verdict, rule, the retraining rule, and the per-column comparison."""
    m = contract.monitoring
    if result.data_quality_incident:
        headline, color = "Package verdict: DATA-QUALITY INCIDENT (no retraining)", "#b42318"
    elif result.dataset_drift:
        headline, color = "Package verdict: DATASET DRIFT DETECTED", "#b42318"
    else:
        headline, color = "Package verdict: no dataset drift", "#067647"
    evidently_drifted = sum(c.drifted for c in evidently.values())
    rows = []
    for column in [*result.columns, *([result.prediction] if result.prediction else [])]:
        theirs = evidently.get(column.column)
        cells = [
            escape(column.column) + (" *" if column.column in m.critical_features else ""),
            escape(column.method),
            _number(column.p_adjusted if column.p_adjusted is not None else column.statistic),
            "drifted" if column.drifted else "",
            _number(theirs.statistic) if theirs else "-",
            "drifted" if theirs and theirs.drifted else "",
            _number(column.threshold),
        ]
        rows.append("<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in cells) + "</tr>")
    return (
        '<div id="package-verdict" style="font-family: system-ui, sans-serif; margin: 12px; padding: 12px 16px; '
        f'border: 3px solid {color}; border-radius: 6px; background: #fff;">'
        f'<h1 style="color: {color}; font-size: 22px; margin: 0 0 6px;">{escape(headline)}</h1>'
        f'<p style="margin: 4px 0;"><b>Rule that fired:</b> {escape(rule_fired(contract, result))}.</p>'
        f'<p style="margin: 4px 0;"><b>What the pipeline does:</b> a drifted window alerts; a retraining is '
        f"triggered when {m.consecutive_windows} windows in a row are drifted, at most once in "
        f"{m.cooldown_hours:g} h. Critical features (*): {escape(', '.join(m.critical_features) or 'none')}.</p>"
        f'<p style="margin: 4px 0;"><b>Why Evidently\'s headline below may differ:</b> it counts '
        f"{evidently_drifted} of {len(evidently)} columns drifted, the score among them, against its share "
        f"rule alone (no critical features, no correction for testing many columns), and it compares this "
        f"window with a random sample of {sample_rows:,} of the reference rows, while the package uses the "
        f"reference profile of all {reference_rows:,} (a KLL sketch for numeric columns), so the two "
        "statistics of a column differ by sampling: both are below. The pipeline acts on the package's "
        "verdict.</p>"
        '<table style="border-collapse: collapse; font-size: 13px; margin-top: 6px;">'
        "<tr><th align=left>column</th><th align=left>method</th><th align=left>package statistic "
        "(adjusted p for tests)</th><th align=left>package</th><th align=left>Evidently statistic</th>"
        "<th align=left>Evidently</th><th align=left>threshold</th></tr>" + "".join(rows) + "</table></div>"
    )


def inject(html: str, block: str) -> str:
    """``block`` as the first thing in the report's body."""
    at = html.find("<body")
    if at < 0:
        return block + html
    end = html.find(">", at) + 1
    return html[:end] + block + html[end:]
