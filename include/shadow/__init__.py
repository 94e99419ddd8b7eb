"""Shadow mode: a challenger that passed the offline gates scores the live traffic beside the
champion, decides nothing, and is judged on the same applications once their outcomes mature.

- ``scores``: each capture day scored again by the shadow version, through its pyfunc, and
  stored beside the capture (``shadow/<dataset>/v<version>/dt=<day>/scores.parquet``);
- ``evaluate``: the paired comparison on the period's matured cohorts (DeLong, decision
  agreement, approval rates, fairness by group) and its verdict: promote, retire or wait;
- ``lifecycle``: start, promote or retire, each audited, notified and tagged in the registry
  (the ``shadow`` alias points at the version while it runs).
"""
