"""Services as local subprocesses for integration tests: free ports, one supervisor, bounded waits.

``Services`` starts every service (a moto server, Airflow's components, Postgres, Redis, MLflow)
in a session (process group) of its own, with its output in ``<log_dir>/<name>.log``, and
``stop()`` ends them all, also on Ctrl-C, even a second one: the whole group of each service
is killed, so nothing it forked (LocalExecutor workers, a Celery pool, a log server) outlives
the test. Every wait is bounded, and the logs stay for whoever reads the failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support.paths import PROJECT_ROOT


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({exc})"
    return "\n".join(text[-lines:])


def http_ok(url: str) -> bool:
    """The server at ``url`` answers HTTP without a server error."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500


@contextmanager
def uninterrupted():
    """Ignore Ctrl-C for the block (stopping services): a second Ctrl-C during teardown would
    leave the rest running. Only the main thread can set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_logged(
    cmd: list[str],
    log: Path,
    *,
    env: dict[str, str],
    cwd: Path = PROJECT_ROOT,
    user: str | None = None,
    timeout: float = 300,
) -> None:
    """Run a one-off command (a migration, initdb) to the end, its output appended to ``log``;
    fail with the log's tail unless it succeeded."""
    with log.open("ab") as out:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited with {done.returncode}:\n{tail(log)}")


class Services:
    """The services of one test, each in its own session; ``stop()`` ends every one."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.stop_signals: dict[str, int] = {}
        self.tiers: dict[str, int] = {}

    def start(
        self,
        name: str,
        cmd: list[str],
        *,
        env: dict[str, str],
        cwd: Path = PROJECT_ROOT,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        tier: int = 0,
    ) -> subprocess.Popen:
        """Start ``cmd`` as the service ``name``, logging to ``<log_dir>/<name>.log``.

        ``stop_signal`` is what asks the service to stop (Postgres' fast shutdown is SIGINT, a
        Celery worker's cold one SIGQUIT). ``stop()`` ends the highest ``tier`` first and tier 0
        last, the services of one tier together: give a service a higher tier than the stores
        it holds connections to.
        """
        log = self.log_dir / f"{name}.log"
        # The log is opened here (root): a service running as another user writes through the descriptor.
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
                extra_groups=[] if user else None,
            )
        self.procs[name], self.logs[name] = proc, log
        self.stop_signals[name], self.tiers[name] = stop_signal, tier
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{tail(self.logs[name])}")

    def wait_for(self, what: str, probe, timeout: float, interval: float = 1.0):
        """Poll ``probe()`` until it returns something truthy, and return that; fail early when a
        service has died, and after ``timeout`` s naming ``what`` and the probe's last error."""
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                result = probe()
            except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:  # not up yet
                result, last_error = None, exc
            if result:
                return result
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last error: {last_error!r})")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every service; a second Ctrl-C while this runs is ignored, since it would leave
        the rest running (every wait below is bounded)."""
        with uninterrupted():
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        for tier in sorted(set(self.tiers.values()), reverse=True):
            names = [name for name in self.procs if self.tiers[name] == tier]
            for name in names:
                if self.procs[name].poll() is None:
                    _signal_group(self.procs[name].pid, self.stop_signals[name])
            deadline = time.monotonic() + timeout
            for name in names:
                proc = self.procs[name]
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                # Whatever is left of the group (the service after the timeout, a Celery pool process,
                # a LocalExecutor worker, a log server) is killed; the group id is the pid we started.
                _signal_group(proc.pid, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)

    def report(self, lines: int = 60) -> str:
        """The tail of every service's log, with its exit code (None: still running)."""
        return "\n".join(
            f"----- tail of {log} (exit code {self.procs[name].poll()}) -----\n{tail(log, lines)}"
            for name, log in self.logs.items()
        )


def _signal_group(pgid: int, sig: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
