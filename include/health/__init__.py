"""Model health at a glance: what the "Model health" page of the Airflow UI shows, built from the
facts the pipeline already stores (registry aliases, the audit trail, the monitors' records).

- ``records``: the monitors' stored records, read once per process (they are written once);
- ``drift``: hourly drift by feature, alerts and triggers, compact enough for a year of windows;
- ``timeline``: the champion now and since when, and each version's decisions with who and why;
- ``outcomes``: realized and estimated AUC by day against the floor, fairness by group;
- ``overview``: one dataset's page, with the links to reports, MLflow and DAG runs.
"""
