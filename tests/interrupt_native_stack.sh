#!/usr/bin/env bash
# Manual check that Ctrl-C stops the whole native stack (tests/support/native_stack.py), even twice.
# Starts the story test, sends SIGINT once the scheduler has finished a task (and a second one
# 3 s later), then lists every service process left and the Postgres cluster folders.
#   bash tests/interrupt_native_stack.sh      (as root, from the checkout; about 1 minute)
set -u
cd "$(dirname "$0")/.."
set -m  # job control: a background job keeps SIGINT (a non-interactive shell would ignore it)
services='airflow|postgres|redis-server|moto_server|mlflow|celery|gunicorn|uvicorn|huey'
count() { ps -eo args | grep -E "$services" | grep -v -E "grep|interrupt_native_stack" | wc -l; }
previous=$(ls -dt /tmp/pytest-of-*/pytest-*/native_stack0 2>/dev/null | head -1)
log=$(mktemp)
.venv/bin/python -m pytest -q -p no:warnings tests/test_native_stack.py -k drift_on >"$log" 2>&1 &
pytest_pid=$!
for _ in $(seq 1 300); do
  stack=$(ls -dt /tmp/pytest-of-*/pytest-*/native_stack0 2>/dev/null | head -1)
  if [ -n "$stack" ] && [ "$stack" != "$previous" ] \
      && grep -q "TaskInstance Finished" "$stack/logs/airflow-scheduler.log" 2>/dev/null; then break; fi
  sleep 1
done
echo "service processes running: $(count)"
kill -INT $pytest_pid; sleep 3; kill -INT $pytest_pid 2>/dev/null
started=$(date +%s)
wait $pytest_pid
echo "pytest exited with $? $(( $(date +%s) - started + 3 )) s after the first Ctrl-C"
sleep 2
echo "service processes left: $(count)"
ps -eo pid,args | grep -E "$services" | grep -v -E "grep|interrupt_native_stack"
echo "Postgres cluster folders left: $(ls -d /tmp/native-stack-pg-* 2>/dev/null | wc -l)"
echo "logs kept: $stack/logs ($(ls "$stack/logs" | wc -l) files); pytest output: $log"
