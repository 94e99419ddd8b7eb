# The Airflow image of docker-compose.yaml: the official image plus the project's pinned requirements.
# dags/, include/ and plugins/ are mounted by the compose file, not copied, so a code change needs
# no rebuild.
FROM apache/airflow:3.3.2-python3.11

# As the airflow user, as the official image docs require for pip installs (the image's default user;
# stated so that a root step added above cannot change it).
USER airflow

COPY --chown=airflow:0 requirements.txt /requirements.txt

# The pinned file alone, not Airflow's constraints file: requirements.txt was compiled with
# apache-airflow==3.3.2 in it and pins the whole tree (MLflow, Evidently, the providers), and the
# constraints-3.3.2 file pins many of the same distributions at other versions, so using both would
# not resolve. Naming apache-airflow==${AIRFLOW_VERSION} is the docs' guard against pip replacing
# the image's Airflow.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt
