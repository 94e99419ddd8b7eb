"""What the tests share besides fixtures, one module per job.

* ``paths``: where the checkout, its contracts and its DAG files are.
* ``data``: valid credit application batches (frames, CSV, Parquet), landing bytes, and
  simulated days landed and ingested as the nightly DAG does.
* ``processes``: free ports and ``Services``, the one supervisor of every service a test starts
  (the moto servers, the live Airflow, the native stack), with its Ctrl-C-proof teardown.
* ``moto``: the one moto server launcher, boto3 clients and Airflow AWS connections for it.
* ``airflow_runs``: loading one DAG file, a run's task states, clearing left-over runs.
* ``live_airflow``: api-server, scheduler and dag-processor on a SQLite database of a test's own.
* ``native_stack``: the production topology (Postgres, Redis, moto, MLflow, Celery) natively.
* ``web_ui``: the Airflow UI driven in headless Chromium.

Fixtures live in tests/conftest.py; test modules import helpers from here, never from
conftest.py or from another test module.
"""
