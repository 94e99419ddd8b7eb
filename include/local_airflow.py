"""`make airflow [PORT=8080]`: Airflow on the embedded defaults, for looking at the DAGs and their runs.

Starts the api-server (UI and REST), scheduler, dag-processor and triggerer as `airflow standalone`
does, with three differences a team that already runs an Airflow needs:

- ``PORT`` moves the UI and the execution API together. The task runner reaches the api-server
  at ``[core] execution_api_server_url`` (default localhost:8080): moving only the UI's port
  leaves every task killed after "Connection refused".
- A few LocalExecutor workers (``AIRFLOW__CORE__PARALLELISM``, default 4 here), not 32.
- Ctrl-C or SIGTERM stops every process it started, however deep (task processes run in
  process groups of their own), within seconds: SIGTERM to each, then SIGKILL for whatever still
  lives after STOP_SECONDS (standalone stops on Ctrl-C only, slowly, and leaves its workers).

It prints the URL, the user and where the password is; the components log to
``$AIRFLOW_HOME/local/<component>.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
STOP_SECONDS = 15  # SIGTERM first; whatever still lives after this gets SIGKILL
READY_SECONDS = 300


def environment(port: int) -> dict[str, str]:
    """The process environment with the UI and the execution API on ``port``."""
    env = dict(os.environ)
    base = f"http://localhost:{port}"
    env.update(
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    # Two people: a promotion's requester cannot approve it (four eyes), so "reviewer" approves.
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,reviewer:admin")
    return env


def port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/api/v2/monitor/health", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _adopt_orphans() -> None:
    """Make this process the child subreaper (Linux): a descendant whose parent dies is re-parented
    here instead of to init, so ``_descendants`` still sees it and nothing escapes the stop."""
    import ctypes

    pr_set_child_subreaper = 36
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _reap() -> None:
    """Collect exited children (re-parented orphans included) so none lingers as a zombie."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _descendants() -> list:
    """Every live process this one started, however deep (task processes in their own groups too)."""
    import psutil

    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


def stop(processes: list[subprocess.Popen]) -> list[int]:
    """SIGTERM every descendant, wait up to STOP_SECONDS, SIGKILL what is left. Returns the pids
    that needed SIGKILL."""
    import psutil

    for process in _descendants():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and _descendants():
        _reap()
        time.sleep(0.2)
    killed = []
    for process in _descendants():
        try:
            process.kill()
            killed.append(process.pid)
        except psutil.NoSuchProcess:
            pass
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    _reap()
    return killed


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="port of the UI and the execution API")
    args = parser.parse_args(argv)
    if port_taken(args.port):
        print(
            f"port {args.port} is taken (another Airflow?): run make airflow PORT=<a free port>",
            file=sys.stderr,
        )
        return 2
    env = environment(args.port)
    home = Path(env["AIRFLOW_HOME"])
    logs = home / "local"
    logs.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if migrate.returncode != 0:
        print(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}", file=sys.stderr)
        return 1

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    _adopt_orphans()
    processes: list[subprocess.Popen] = []
    group = 0
    for name in COMPONENTS:
        with open(logs / f"{name}.log", "ab") as log:
            # A process group of their own: the terminal's Ctrl-C reaches this process, which
            # stops them all in order, rather than each component on its own.
            process = subprocess.Popen(
                [airflow, name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=group,
            )
        group = group or process.pid
        processes.append(process)
    print(f"starting Airflow on port {args.port}; component logs in {logs}/", flush=True)
    ready, deadline, code = False, time.monotonic() + READY_SECONDS, 0
    while not stopping:
        dead = [
            (name, p.returncode)
            for name, p in zip(COMPONENTS, processes, strict=True)
            if p.poll() is not None
        ]
        if dead:
            name, returncode = dead[0]
            print(
                f"airflow {name} exited with {returncode}; its log ends:\n{_tail(logs / f'{name}.log')}",
                file=sys.stderr,
            )
            code = 1
            break
        if not ready and _healthy(args.port):
            ready = True
            users = [u.split(":")[0] for u in env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")]
            password_file = home / "simple_auth_manager_passwords.json.generated"
            print(
                f"Airflow UI: http://localhost:{args.port}  users: {', '.join(users)} (a promotion's requester "
                f"cannot approve it)  passwords: in {password_file} "
                f"(.venv/bin/python -c \"import json; print(json.load(open('{password_file}'))['{users[0]}'])\")\n"
                "Ctrl-C stops everything.",
                flush=True,
            )
        if not ready and time.monotonic() > deadline:
            print(
                f"the api-server did not answer on port {args.port} within {READY_SECONDS} s; its log ends:\n"
                f"{_tail(logs / 'api-server.log')}",
                file=sys.stderr,
            )
            code = 1
            break
        _reap()
        time.sleep(0.5)
    print("stopping Airflow...", flush=True)
    killed = stop(processes)
    left = _descendants()
    print(json.dumps({"stopped": True, "needed_sigkill": len(killed), "left": len(left)}), flush=True)
    return code or (1 if left else 0)


if __name__ == "__main__":
    raise SystemExit(main())
