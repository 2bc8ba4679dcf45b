#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running: PostgreSQL on 127.0.0.1:5432.
# (The S3 test server and Ray are started by the test fixtures themselves.)
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
fi
pg_isready -h 127.0.0.1 -p 5432
