"""docker-compose.yaml, the Dockerfiles and .env.example, checked by parsing them.

No Docker engine exists where the stack was written, so these tests stand in for `docker compose
config` and a start-up: they read the compose file the way compose does (anchors, merge keys,
``${VAR}`` interpolation from .env.example) and check the wiring between services, the package's
settings and the secrets. Each message names the service or variable at fault.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from include import settings as settings_module
from tests.support.paths import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
AIRFLOW_DOCKERFILE = PROJECT_ROOT / "Dockerfile"
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
POSTGRES_INIT_DIR = PROJECT_ROOT / "docker" / "postgres-init"

AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
REQUIRED_SERVICES = ("postgres", "redis", "mlflow", "mlflow-init", "minio", "minio-init") + AIRFLOW_SERVICES
ONE_SHOT_SERVICES = ("airflow-init", "minio-init", "mlflow-init")
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ROLES_FILE = PROJECT_ROOT / "docker" / "airflow-roles.json"
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")

# Compose interpolation: $$ is a literal $, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error},
# ${VAR?error}, ${VAR:+other}, ${VAR+other} and $VAR.
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|ACCESS_KEY|TOKEN|_AUTH$")
# A value that is only a variable, with no default baked into the file.
BARE_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*)?\}")


# --------------------------------------------------------------------------- reading the files


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r} is not NAME=value"
            values[name.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg, value = match.group("op") or "", match.group("arg") or "", env.get(name)
        unset_or_empty = not value if op.startswith(":") else value is None
        if op.endswith("-"):
            return arg if unset_or_empty else value
        if op.endswith("?"):
            if unset_or_empty:
                raise AssertionError(f"${{{name}}} is required ({arg}) and .env.example leaves it empty")
            return value
        if op.endswith("+"):
            return "" if unset_or_empty else arg
        return value or ""

    return INTERPOLATION.sub(replace, text)


def references(text: str) -> list[re.Match]:
    return [m for m in INTERPOLATION.finditer(text) if m.group(0) != "$$"]


def strings_in(node, path="") -> list[tuple[str, str]]:
    """Every string value in the parsed file with where it is (keys are not interpolated)."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in strings_in(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in strings_in(value, f"{path}[{i}]")]
    return []


def as_text(value) -> str:
    """A command as one text to search (a script stays as written, unquoted)."""
    return value if isinstance(value, str) else "\n".join(value)


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def option(command: list[str], name: str) -> str:
    for i, arg in enumerate(command):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return command[i + 1]
    raise AssertionError(f"the command has no {name}: {command}")


def requirement_pins() -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", REQUIREMENTS.read_text(), re.M)
    }


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # safe_load resolves anchors and << merge keys


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def resolved_env(services, env_example):
    """service -> its environment as the containers would see it with .env copied from .env.example."""
    return {
        name: {key: interpolate(value, env_example) for key, value in environment_of(service).items()}
        for name, service in services.items()
    }


def airflow_env(resolved_env) -> dict[str, str]:
    return resolved_env["airflow-scheduler"]


# --------------------------------------------------------------------------- services and dependencies


def test_required_services_exist(services):
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"docker-compose.yaml lacks the services {missing}"


def test_every_airflow_container_runs_the_common_image(compose, services):
    image = compose["x-airflow-common"]["image"]
    odd = [name for name in AIRFLOW_SERVICES if services[name].get("image") != image]
    assert not odd, f"{odd} do not use the x-airflow-common image {image}"


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", f"one-shot service {name} must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), (
            f"long-running service {name} has no healthcheck"
        )
        assert check["test"][0] in ("CMD", "CMD-SHELL"), (
            f"{name}: healthcheck test must start with CMD or CMD-SHELL"
        )


def test_every_dependency_has_a_condition_on_an_existing_service(services):
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on is a list, so it has no conditions"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on {target}, which is not a service"
            condition = (spec or {}).get("condition")
            assert condition in CONDITIONS, f"{name} -> {target}: no valid condition ({condition!r})"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy; it has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{name} waits for {target} to complete; it never does"
            if target in ONE_SHOT_SERVICES:
                assert condition == "service_completed_successfully", (
                    f"{name} must wait for one-shot {target} to complete, not {condition}"
                )


NEEDS = (
    [(airflow, "postgres", "service_healthy") for airflow in AIRFLOW_SERVICES]
    + [(airflow, "redis", "service_healthy") for airflow in AIRFLOW_SERVICES]
    + [(airflow, "airflow-init", "service_completed_successfully") for airflow in AIRFLOW_SERVICES[1:]]
    + [
        ("airflow-worker", "mlflow", "service_healthy"),
        ("airflow-worker", "minio-init", "service_completed_successfully"),
        ("mlflow", "postgres", "service_healthy"),
        ("mlflow", "minio-init", "service_completed_successfully"),
        ("minio-init", "minio", "service_healthy"),
    ]
)


@pytest.mark.parametrize("service, needed, condition", NEEDS, ids=[f"{s}->{n}" for s, n, _ in NEEDS])
def test_services_wait_for_what_they_need(services, service, needed, condition):
    spec = services[service].get("depends_on", {}).get(needed)
    assert spec is not None, f"{service} does not depend on {needed}"
    assert spec.get("condition") == condition, (
        f"{service} -> {needed}: condition {spec.get('condition')!r}, not {condition}"
    )


# --------------------------------------------------------------------------- Airflow


def test_airflow_init_migrates_the_database_imports_the_roles_and_creates_the_admin(services, env_example):
    init = services["airflow-init"]
    script = interpolate(as_text(init["command"]), env_example)
    steps = [
        r"\bairflow db migrate\b",
        r"\bairflow sync-perm --include-dags\b",
        r"\bairflow roles import (\S+)",
        r"\bairflow users create --role Admin --username \"\$\{_AIRFLOW_WWW_USER_USERNAME\}\"",
        r"\bairflow users reset-password --username \"\$\{_AIRFLOW_WWW_USER_USERNAME\}\"",
    ]
    found = [re.search(step, script) for step in steps]
    assert all(found), f"airflow-init lacks {[s for s, f in zip(steps, found, strict=True) if not f]}"
    assert [f.start() for f in found] == sorted(f.start() for f in found), (
        "airflow-init runs them out of order"
    )
    mounts = dict(interpolate(v, env_example).split(":")[:2][::-1] for v in init["volumes"])
    roles_file = found[2].group(1)
    assert (PROJECT_ROOT / mounts[roles_file]).resolve() == ROLES_FILE, (
        f"{roles_file} is not docker/airflow-roles.json"
    )


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_every_airflow_service_signs_people_in_with_fab(resolved_env, name):
    assert resolved_env[name]["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    assert not [k for k in resolved_env[name] if k.startswith("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER")]


def test_the_team_roles_name_real_resources_and_dags():
    from airflow.providers.fab.www.security import permissions

    roles = json.loads(ROLES_FILE.read_text())
    assert {r["name"] for r in roles} == {"DataScientist", "MLEngineer", "RiskOfficer"}
    known = {v for k, v in vars(permissions).items() if k.startswith("RESOURCE_") and isinstance(v, str)}
    dags = {p.stem for p in (PROJECT_ROOT / "dags").glob("*.py")}
    for role in roles:
        resource = role["resource"]
        prefix, _, dag_id = resource.partition(":")
        if dag_id:
            assert f"{prefix}:" in permissions.PREFIX_RESOURCES_MAP, (
                f"{role['name']}: unknown prefix of {resource}"
            )
            assert dag_id in dags, f"{role['name']}: no DAG {dag_id}"
        else:
            assert resource in known, f"{role['name']}: unknown resource {resource!r}"
        assert set(role["action"].split(",")) <= {"can_read", "can_edit", "can_create", "can_delete"}
    # Approving is the risk officer's duty alone; triggering retraining the data scientist's.
    hitl = {r["name"] for r in roles if r["resource"] == permissions.RESOURCE_HITL_DETAIL}
    assert hitl == {"RiskOfficer"}


def test_mlflow_signs_requests_in_and_airflow_uses_the_service_user(services, resolved_env, env_example):
    command = [interpolate(arg, env_example) for arg in services["mlflow"]["command"]]
    assert option(command, "--app-name") == "basic-auth", "the MLflow server runs without authentication"
    mlflow_env = resolved_env["mlflow"]
    config = dict(interpolate(v, env_example).split(":")[:2][::-1] for v in services["mlflow"]["volumes"])
    ini = PROJECT_ROOT / config[mlflow_env["MLFLOW_AUTH_CONFIG_PATH"]]
    assert "default_permission = READ" in ini.read_text() and "admin_password" not in ini.read_text()
    assert mlflow_env["MLFLOW_AUTH_ADMIN_PASSWORD"] == env_example["MLFLOW_ADMIN_PASSWORD"]
    connection = json.loads(airflow_env(resolved_env)["AIRFLOW_CONN_MLFLOW_DEFAULT"])
    made = resolved_env["mlflow-init"]
    assert (connection["login"], connection["password"]) == (
        made["MLFLOW_SERVICE_USER"],
        made["MLFLOW_SERVICE_PASSWORD"],
    ), "the mlflow_default connection is not the user mlflow-init creates"
    assert airflow_env(resolved_env)["MLOPS_MLFLOW_CONN_ID"] == "mlflow_default"
    compile(services["mlflow-init"]["command"][-1], "mlflow-init", "exec")


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_mounts_the_code_and_uses_celery_and_postgres(
    services, resolved_env, env_example, name
):
    mounts = {}
    for volume in services[name].get("volumes", []):
        source, target = interpolate(volume, env_example).split(":")[:2]
        mounts[source.removeprefix("./").rstrip("/")] = target
    env = resolved_env[name]
    for folder in ("dags", "include", "plugins"):
        assert folder in mounts, f"{name} does not mount ./{folder}"
    assert mounts["dags"] == env.get("AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags"), (
        f"{name}: dags not in the DAGs folder"
    )
    assert mounts["plugins"] == env.get("AIRFLOW__CORE__PLUGINS_FOLDER", "/opt/airflow/plugins"), (
        f"{name}: plugins not in the plugins folder"
    )
    path = env.get("PYTHONPATH", "").split(":")
    assert str(Path(mounts["include"]).parent) in path, f"{name}: `import include` fails, PYTHONPATH={path}"
    assert mounts["plugins"] in path, f"{name}: `import mlops_plugins` fails, PYTHONPATH={path}"
    assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", f"{name} does not use the CeleryExecutor"
    assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES", "").lower() == "false", f"{name} loads the example DAGs"
    database = urlsplit(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
    assert database.scheme.startswith("postgresql") and database.hostname == "postgres", (
        f"{name}: the metadata DB is not the postgres service ({database.scheme}://{database.hostname})"
    )
    broker = urlsplit(env.get("AIRFLOW__CELERY__BROKER_URL", ""))
    assert (broker.scheme, broker.hostname) == ("redis", "redis"), (
        f"{name}: the Celery broker is not the redis service"
    )


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_every_settings_variable_reaches_every_airflow_service(resolved_env, name):
    missing = [v.name for v in settings_module.VARIABLES if v.name not in resolved_env[name]]
    assert not missing, f"{name} lacks the settings variables {missing}"


def test_the_airflow_environment_is_valid_production_settings(resolved_env, services):
    env = airflow_env(resolved_env)
    s = settings_module.load(env)  # raises SettingsError naming a malformed variable
    assert s.storage_root.startswith("s3://"), f"MLOPS_STORAGE_ROOT={s.storage_root} is not on S3"
    assert s.mlflow_artifact_root.startswith("s3://"), (
        f"MLOPS_MLFLOW_ARTIFACT_ROOT={s.mlflow_artifact_root} is not on S3"
    )
    assert s.simulator_enabled, "MLOPS_SIMULATOR should default to on for the demo"
    tracking = urlsplit(s.mlflow_tracking_uri)
    assert tracking.scheme == "http" and tracking.hostname in services, (
        f"MLFLOW_TRACKING_URI={s.mlflow_tracking_uri} does not name a service"
    )
    assert f"--port={tracking.port}" in services[tracking.hostname]["command"], (
        f"MLFLOW_TRACKING_URI port {tracking.port} is not the mlflow server's --port"
    )


def test_the_storage_connection_points_at_the_s3_endpoint(resolved_env, services):
    env = airflow_env(resolved_env)
    for variable in ("MLOPS_STORAGE_CONN_ID", "MLOPS_NOTIFY_CONN_ID"):
        conn_var = f"AIRFLOW_CONN_{env[variable].upper()}"
        assert conn_var in env, f"{variable}={env[variable]} but no {conn_var} defines that connection"
        conn = json.loads(env[conn_var])
        assert conn["conn_type"] == "aws", f"{conn_var} is not an aws connection"
    conn = json.loads(env[f"AIRFLOW_CONN_{env['MLOPS_STORAGE_CONN_ID'].upper()}"])
    extra = conn.get("extra", {})
    endpoint = extra.get("service_config", {}).get("s3", {}).get("endpoint_url") or extra.get("endpoint_url")
    assert endpoint, "the storage connection has no S3 endpoint_url: it would go to AWS, not MinIO"
    assert endpoint == env["MLFLOW_S3_ENDPOINT_URL"], (
        "Airflow's S3 connection and MLflow's S3 client use different endpoints"
    )
    assert urlsplit(endpoint).hostname in services, f"the S3 endpoint {endpoint} is not a service"
    assert (conn["login"], conn["password"]) == (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]), (
        "the connection and MLflow's S3 client use different credentials"
    )


DRIVER_DISTRIBUTIONS = {
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "psycopg": ("psycopg", "psycopg-binary"),
    "asyncpg": ("asyncpg",),
    "pg8000": ("pg8000",),
}


def test_postgres_urls_name_a_driver_requirements_txt_installs(compose):
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; a URL naming no driver breaks when it is absent.
    pins = requirement_pins()
    for where, text in strings_in(compose):
        for match in re.finditer(r"\bpostgresql(?:\+(\w+))?://", text):
            driver = match.group(1)
            assert driver, f"{where}: {match.group(0)} names no driver (SQLAlchemy 2.1 would pick psycopg 3)"
            assert any(d in pins for d in DRIVER_DISTRIBUTIONS.get(driver, (driver,))), (
                f"{where}: driver {driver} is not in requirements.txt"
            )


# --------------------------------------------------------------------------- secrets and .env


def test_secret_environment_values_are_only_interpolated(services):
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert BARE_VARIABLE.fullmatch(value), (
                    f"{name}: {key} is not a bare ${{VAR}} from .env ({value!r})"
                )


def test_credentials_in_urls_and_connections_are_only_interpolated(compose):
    for where, text in strings_in(compose):
        for match in re.finditer(r"://[^\s:/@'\"]*:([^\s@'\"]*)@", text):
            password = match.group(1)
            assert password == "" or BARE_VARIABLE.fullmatch(password), (
                f"{where}: a literal password in a URL"
            )
        if where.split(".")[-1].startswith("AIRFLOW_CONN_"):
            conn = json.loads(text)
            for field in ("login", "password"):
                assert BARE_VARIABLE.fullmatch(conn.get(field, "${X}")), f"{where}: literal {field}"


def test_secret_variables_have_no_default_in_the_compose_file(compose, env_example):
    secrets = {name for name in env_example if SECRET_NAME.search(name)}
    assert secrets, ".env.example names no secrets"
    for where, text in strings_in(compose):
        for match in references(text):
            name = match.group("braced") or match.group("bare")
            if name in secrets:
                assert (match.group("op") or "").lstrip(":") in ("", "?"), (
                    f"{where}: ${{{name}}} has a default in the file"
                )


def test_secret_placeholders_do_not_appear_in_the_compose_file(env_example):
    text = COMPOSE_FILE.read_text()
    leaked = [
        name for name, value in env_example.items() if SECRET_NAME.search(name) and value and value in text
    ]
    assert not leaked, f"the values of {leaked} appear literally in docker-compose.yaml"


def test_every_interpolated_variable_is_in_env_example(compose, env_example):
    used = {}
    for where, text in strings_in(compose):
        for match in references(text):
            used.setdefault(match.group("braced") or match.group("bare"), where)
    missing = {name: where for name, where in used.items() if name not in env_example}
    assert not missing, f".env.example lacks variables docker-compose.yaml uses: {missing}"
    unused = sorted(set(env_example) - set(used))
    assert not unused, f".env.example has variables docker-compose.yaml never uses: {unused}"


def test_every_env_example_variable_has_a_comment():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            assert i > 0 and lines[i - 1].startswith("#"), (
                f".env.example: {line.split('=')[0]} has no comment above it"
            )


def test_env_is_git_ignored_and_env_example_is_not():
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=PROJECT_ROOT).returncode == 0

    assert ignored(".env"), ".env is not git-ignored: secrets could be committed"
    assert not ignored(".env.example"), ".env.example is git-ignored"


# --------------------------------------------------------------------------- images


def test_airflow_dockerfile_extends_the_pinned_airflow_image_and_installs_requirements(compose):
    lines = [
        line.strip()
        for line in AIRFLOW_DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    airflow = requirement_pins()["apache-airflow"]
    assert lines[0] == f"FROM apache/airflow:{airflow}-python3.11", (
        f"Dockerfile starts with {lines[0]!r}, not FROM the image of requirements.txt's apache-airflow=={airflow}"
    )
    copied = next(
        (line.split()[-1] for line in lines if line.startswith("COPY") and "requirements.txt" in line), None
    )
    assert copied, "Dockerfile does not copy requirements.txt"
    install = next((line for line in lines if line.startswith("RUN") and "pip install" in line), "")
    assert f"-r {copied}" in install, f"Dockerfile does not pip install -r {copied}"
    users = [line.split()[1] for line in lines[: lines.index(install)] if line.startswith("USER")]
    assert users[-1:] in ([], ["airflow"]), (
        f"Dockerfile installs requirements as {users[-1]}, not the airflow user"
    )
    build = compose["x-airflow-common"]["build"]
    assert build in (".", {"context": "."}), f"x-airflow-common does not build ./Dockerfile ({build})"


def test_mlflow_image_pins_what_requirements_txt_pins(services):
    build = services["mlflow"]["build"]
    dockerfile = PROJECT_ROOT / build["context"] / build["dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M), f"{dockerfile.name} is not built on Python 3.11"
    pinned = dict(re.findall(r"\b([a-z0-9][a-z0-9_.\-]*)==([0-9][^\s\\]*)", text))
    for package in ("mlflow", "psycopg2-binary", "boto3"):
        assert package in pinned, f"{dockerfile.name} does not pin {package}"
    wanted = requirement_pins()
    wrong = {p: v for p, v in pinned.items() if wanted.get(p) != v}
    assert not wrong, f"{dockerfile.name} pins {wrong}; requirements.txt has {[wanted.get(p) for p in wrong]}"


# --------------------------------------------------------------------------- MLflow, Postgres, MinIO


def test_mlflow_server_uses_a_postgres_backend_store_and_s3_artifacts(services, env_example, resolved_env):
    command = [interpolate(arg, env_example) for arg in services["mlflow"]["command"]]
    assert command[:2] == ["mlflow", "server"], f"the mlflow service runs {command[:2]}"
    backend = urlsplit(option(command, "--backend-store-uri"))
    assert backend.scheme.startswith("postgresql") and backend.hostname == "postgres", (
        f"mlflow --backend-store-uri is {backend.scheme}://{backend.hostname}, not the postgres service"
    )
    assert option(command, "--artifacts-destination").startswith("s3://"), (
        "mlflow --artifacts-destination is not s3://"
    )
    assert option(command, "--host") == "0.0.0.0", (
        "mlflow listens on localhost only; other containers cannot reach it"
    )
    # MLflow 3 answers 403 to Host headers outside --allowed-hosts: Airflow's must be in it.
    host = urlsplit(airflow_env(resolved_env)["MLFLOW_TRACKING_URI"]).netloc
    allowed = option(command, "--allowed-hosts").split(",")
    assert any(fnmatch.fnmatch(host, pattern) for pattern in allowed), (
        f"mlflow --allowed-hosts {allowed} rejects {host}"
    )
    mlflow_env = resolved_env["mlflow"]
    for key in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert mlflow_env.get(key) == airflow_env(resolved_env)[key], f"mlflow's {key} differs from Airflow's"


def test_postgres_init_creates_the_mlflow_database(services, env_example):
    command = [interpolate(arg, env_example) for arg in services["mlflow"]["command"]]
    backend = urlsplit(option(command, "--backend-store-uri"))
    postgres = services["postgres"]
    mounts = dict(volume.split(":")[:2] for volume in postgres["volumes"])
    init_dir = next((src for src, dst in mounts.items() if dst == "/docker-entrypoint-initdb.d"), None)
    assert init_dir and (PROJECT_ROOT / init_dir).resolve() == POSTGRES_INIT_DIR, (
        "postgres does not mount docker/postgres-init"
    )
    scripts = "\n".join(
        p.read_text() for p in sorted(POSTGRES_INIT_DIR.glob("*")) if p.suffix in (".sh", ".sql")
    )
    database, user = backend.path.lstrip("/"), backend.username
    assert re.search(rf"CREATE DATABASE {database} OWNER {user}\b", scripts), (
        f"docker/postgres-init creates no database {database} owned by {user}"
    )
    assert re.search(rf"CREATE ROLE {user} LOGIN PASSWORD :'(\w+)'", scripts), (
        f"docker/postgres-init creates no role {user}"
    )
    assert "MLFLOW_DB_PASSWORD" in environment_of(postgres), (
        "postgres does not receive MLFLOW_DB_PASSWORD for its init script"
    )


def bucket(uri: str) -> str:
    return urlsplit(uri).netloc


def test_minio_init_creates_the_buckets_the_stack_names(services, resolved_env, env_example):
    script = interpolate(as_text(services["minio-init"]["command"]), env_example)
    created = set(re.findall(r"\bmc mb (?:--\S+ )*\S+/([a-z0-9.\-]+)", script))
    env = airflow_env(resolved_env)
    command = [interpolate(arg, env_example) for arg in services["mlflow"]["command"]]
    named = {
        "MLOPS_STORAGE_ROOT": bucket(env["MLOPS_STORAGE_ROOT"]),
        "MLOPS_MLFLOW_ARTIFACT_ROOT": bucket(env["MLOPS_MLFLOW_ARTIFACT_ROOT"]),
        "mlflow --artifacts-destination": bucket(option(command, "--artifacts-destination")),
    }
    missing = {where: name for where, name in named.items() if name not in created}
    assert not missing, f"minio-init creates {sorted(created)}, not the buckets of {missing}"


@pytest.mark.parametrize("name, shell", [("airflow-init", "bash"), ("minio-init", "sh")])
def test_one_shot_scripts_are_valid_shell(services, env_example, name, shell):
    service = services[name]
    assert service["entrypoint"].endswith(shell), f"{name} does not run its script with {shell}"
    script = interpolate(service["command"][-1], env_example)
    result = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True)
    assert result.returncode == 0, f"{name}: {result.stderr}"


def test_postgres_init_scripts_are_valid_shell():
    for script in POSTGRES_INIT_DIR.glob("*.sh"):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"
