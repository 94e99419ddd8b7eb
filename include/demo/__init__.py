"""`make demo`: the whole loop on the embedded defaults, told as a timeline (story.py), its DAG runs
executed in this process with the facts Airflow records for them (runner.py)."""
