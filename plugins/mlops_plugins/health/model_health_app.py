"""The Model health page's FastAPI app, mounted by Airflow's API server under ``/model-health``.

Airflow mounts a plugin's app as is: none of its own authentication reaches it. So every route
here depends on ``viewer``: the caller is the user of Airflow's session cookie or bearer token
(401 without one), resolved by Airflow's auth manager, and must be allowed to read the runs of
every DAG the page shows (403 otherwise, naming the DAGs). The page, its scripts, its JSON and
the Evidently reports it links are all behind it.
"""

from __future__ import annotations

from pathlib import Path

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
# What the page shows: the runs of these DAGs (and what they recorded).
PAGE_DAGS = (
    "weekly_retraining",
    "drift_monitoring",
    "performance_monitoring",
    "decision_monitoring",
    "shadow_evaluation",
    "model_rollback",
)
FILES = {  # the only files served: name -> media type
    "health.js": "text/javascript",
    "health.css": "text/css",
    "vendor/uPlot.iife.min.js": "text/javascript",
    "vendor/uPlot.min.css": "text/css",
}


def viewer(user: GetUserDep):
    """The authenticated user, if the auth manager lets them read the runs of every page DAG."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    manager = get_auth_manager()
    denied = [
        dag_id
        for dag_id in PAGE_DAGS
        if not manager.is_authorized_dag(
            method="GET", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
        )
    ]
    if denied:
        raise HTTPException(
            status_code=403,
            detail=f"user {user.get_name()!r} may not read the runs of {', '.join(denied)}, which the "
            "Model health page shows",
        )
    return user


app = FastAPI(
    title="Model health",
    description="Champion, versions, drift, realized and estimated AUC, fairness: per dataset.",
    dependencies=[Depends(viewer)],
    # FastAPI serves its schema and doc pages outside the app's dependencies: none, so nothing
    # about the page's routes is told to a caller without a session.
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)
app.add_middleware(GZipMiddleware, minimum_size=2048)


def _contract(dataset: str):
    from include import contract, settings

    known = contract.available(settings.get().contracts_dir)
    if dataset not in known:
        raise HTTPException(status_code=404, detail=f"no dataset {dataset!r}; known: {', '.join(known)}")
    return contract.load(dataset)


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@app.get("/static/{name:path}", include_in_schema=False)
def static(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(status_code=404, detail=f"no file {name!r}")
    return FileResponse(STATIC / name, media_type=FILES[name])


@app.get("/api/datasets")
def datasets() -> dict:
    """The datasets with a contract, and the one the deployment monitors by default."""
    from include import contract, settings

    config = settings.get()
    return {"datasets": contract.available(config.contracts_dir), "default": config.dataset}


@app.get("/api/health/{dataset}")
def health(dataset: str, days: int = Query(90, ge=1, le=731)) -> dict:
    """Everything the page draws for ``dataset`` over the last ``days`` days."""
    from include.health import overview

    return overview.build(_contract(dataset), days=days)


@app.get("/reports/{dataset}/{day}/{hour}", response_class=HTMLResponse)
def report(dataset: str, day: str, hour: str) -> HTMLResponse:
    """A stored Evidently report of a drift window (``dt=<day>/hour=<HH>.html``)."""
    from include import storage
    from include.health import overview

    path = overview.report_path(_contract(dataset), f"{day}/{hour}")
    if path is None or not storage.exists(path):
        raise HTTPException(status_code=404, detail=f"no report {day}/{hour} for {dataset}")
    return HTMLResponse(storage.read_bytes(path).decode("utf-8"))
