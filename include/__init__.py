"""The library behind the DAGs: contracts, storage, validation, ingestion and the simulator.

Nothing here imports Airflow at module level except the storage layer, which uses
Airflow's ObjectStoragePath so that file:// and s3:// share one code path.
"""
