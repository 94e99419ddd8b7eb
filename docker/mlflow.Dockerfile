# The MLflow tracking server of docker-compose.yaml (built with the repository as context).
# Built here rather than taken from ghcr.io/mlflow/mlflow: that image ships no Postgres driver
# (mlflow/mlflow#9513), which the backend store needs, and building lets the server run the same
# pinned MLflow, SQLAlchemy and boto3 as the Airflow side. flask-wtf is MLflow's [auth] extra: the
# basic-auth app (--app-name basic-auth) needs it.
FROM python:3.11-slim

# requirements.txt as a constraints file: MLflow's whole dependency tree at the versions Airflow's
# image installs, so server and clients agree on MLflow, SQLAlchemy, alembic and boto3.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --constraint /tmp/requirements.txt \
        mlflow==3.17.2 flask-wtf==1.3.0 psycopg2-binary==2.9.13 boto3==1.43.117 \
    && rm /tmp/requirements.txt

RUN useradd --create-home --uid 1000 mlflow
USER mlflow
WORKDIR /home/mlflow
EXPOSE 5000
