"""The scoring side, as the monitors need it: the champion scorer (what the scoring service does),
and, for the simulator only, the landing of a window's missing capture hours."""

from __future__ import annotations

from datetime import datetime

from include import registry, storage
from include import settings as settings_module
from include.contract import Contract
from include.monitoring import window as window_module
from include.monitoring.reference import champion_version


def land_missing_capture(
    contract: Contract, interval_end: datetime, *, settings: settings_module.Settings | None = None
) -> list[str]:
    """Simulator only: land the window's capture hours that do not exist yet, scored by the
    current champion (or unscored without one). Existing hours are never rewritten."""
    start, end = window_module.bounds(interval_end, contract.monitoring.lookback_hours)
    return land_missing_hours(contract, start, end, settings=settings)


def land_missing_hours(
    contract: Contract, start: datetime, end: datetime, *, settings: settings_module.Settings | None = None
) -> list[str]:
    """Simulator only: land the capture hours in ``[start, end)`` that do not exist yet."""
    from include.simulator.land import land_capture_hour

    s = settings or settings_module.get()
    missing = [
        h
        for h in window_module.hours(start, end)
        if not storage.exists(window_module.hour_path(contract.name, h, s))
    ]
    if not missing:
        return []
    scorer = champion_scorer(s, contract.name)
    return [land_capture_hour(contract, hour, settings=s, scorer=scorer) for hour in missing]


def champion_scorer(settings: settings_module.Settings, name: str):
    """What the scoring service does: ``models:/<name>@champion`` scores a frame of features."""
    version = champion_version(settings, name)
    return None if version is None else version_scorer(settings, name, version)


def version_scorer(settings: settings_module.Settings, name: str, version: str):
    """A registered version's pyfunc as a scorer: a frame of features in, (scores, version) out.
    The rows are taken as the service receives them (the registered model casts them to the
    contract's types); a version reads the inputs of its own signature."""
    import mlflow

    registry.use(settings)
    model = registry.call(
        registry.client(settings),
        f"load {name} v{version}",
        mlflow.pyfunc.load_model,
        f"models:/{name}/{version}",
    )
    schema = model.metadata.get_input_schema()
    if schema is not None:
        inputs = list(schema.input_names())
    else:  # a model logged without a signature takes the contract's features
        from include import contract as contract_module

        inputs = list(contract_module.load(name, settings.contracts_dir).features)
    return lambda frame: (model.predict(frame[inputs])["score"].to_numpy(), version)
