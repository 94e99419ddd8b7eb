"""How long a task takes to fail when the MLflow tracking server is down, against MLflow's own client.

A port on 127.0.0.1 where nothing listens stands for the dead server (connection refused, the
common case: the server is stopped or the URI is wrong). Each side runs in a fresh child process:

- ``ours``: ``train_challenger`` as the weekly DAG's task calls it, from the call to the
  ``RegistryUnreachable`` it raises (a permanent error: the task fails without its retry).
- ``peer``: what a hand-rolled job does, ``MlflowClient(uri).search_registered_models()``, with
  MLflow's default HTTP retry policy (7 retries with backoff), until its exception.

The peer waits out MLflow's retries (about 4-5 minutes), so this benchmark runs only when named.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

MLFLOW_HTTP = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)


def _dead_uri() -> str:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{unused.getsockname()[1]}"


def _child(mode: str, uri: str, tmp: str) -> dict:
    from include.settings import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k not in MLFLOW_HTTP}
    out = subprocess.run(
        [sys.executable, "-m", "bench.unreachable_registry", mode, uri, tmp],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=str(PROJECT_ROOT),
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> dict:
    uri = _dead_uri()
    with tempfile.TemporaryDirectory(prefix="bench-unreachable-") as tmp:
        ours, peer = _child("ours", uri, tmp), _child("peer", uri, tmp)
    return {
        "uri": uri,
        "ours": ours,
        "peer": peer,
        "peer_over_ours_time": round(peer["seconds"] / ours["seconds"], 1) if ours["seconds"] else None,
    }


def _ours(uri: str, tmp: str) -> dict:
    from datetime import date

    from include import contract, settings
    from include.training.challenger import train_challenger

    s = settings.load({"MLOPS_LOCAL_DIR": tmp, "MLFLOW_TRACKING_URI": uri})
    credit = contract.load("credit_applications", s.contracts_dir)
    started = time.perf_counter()
    try:
        train_challenger(
            credit,
            end=date(2026, 3, 28),
            window_days=28,
            force=False,
            reason="bench",
            actor="bench",
            dag_run_id="bench_unreachable",
            created="2026-03-29T00:00:00+00:00",
            settings=s,
        )
    except Exception as exc:
        return {
            "what": "train_challenger until its error",
            "seconds": round(time.perf_counter() - started, 2),
            "error": f"{type(exc).__name__}: {exc}",
        }
    raise SystemExit("train_challenger did not fail on a dead tracking URI")


def _peer(uri: str, tmp: str) -> dict:
    from mlflow import MlflowClient

    started = time.perf_counter()
    try:
        MlflowClient(tracking_uri=uri).search_registered_models()
    except Exception as exc:
        return {
            "what": "MlflowClient(uri).search_registered_models() with MLflow's default HTTP retries",
            "seconds": round(time.perf_counter() - started, 2),
            "error": f"{type(exc).__name__}: {exc}"[:300],
        }
    raise SystemExit("MLflow's client did not fail on a dead tracking URI")


if __name__ == "__main__":
    mode, dead, directory = sys.argv[1:4]
    real_stdout = os.dup(1)
    os.dup2(2, 1)  # logs to stderr; only the result line goes to stdout
    result = {"ours": _ours, "peer": _peer}[mode](dead, directory)
    sys.stdout.flush()
    os.dup2(real_stdout, 1)
    print(json.dumps(result))
