#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running: PostgreSQL on 127.0.0.1:5432
# (or wherever FLOWSTONE_TEST_POSTGRES_URL points), accepting the `postgres` user without a
# password from 127.0.0.1. The S3 test server (moto) and Ray are started by the test
# fixtures themselves; both come with `pip install -e '.[dev]'` (make's venv step).
#
# On a machine without PostgreSQL (a fresh CI container, as root with apt-get), it installs
# the distribution's packages and configures the new cluster for the tests; anywhere else it
# only starts an installed cluster, and says what to do when there is none.
set -euo pipefail

if [[ -n "${FLOWSTONE_TEST_POSTGRES_URL:-}" ]]; then
  pg_isready -d "$FLOWSTONE_TEST_POSTGRES_URL"
  exit
fi
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_isready -h 127.0.0.1 -p 5432
  exit
fi

installed_here=0
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    installed_here=1
  else
    echo "PostgreSQL is not installed: install it (e.g. sudo apt-get install postgresql)," \
      "or set FLOWSTONE_TEST_POSTGRES_URL to a server the tests may create databases on" >&2
    exit 1
  fi
fi

version="$(ls /etc/postgresql | sort -V | tail -n1)"
if [[ "$installed_here" == 1 ]]; then
  # A cluster made just now for the tests: trust local connections, as the tests connect
  # as `postgres` without a password (never done to a cluster that existed before).
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  sed -i '/^\(local\|host\)/d' "$hba"
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >>"$hba"
  # The package may have started the cluster already, with the old rules.
  pg_ctlcluster --skip-systemctl-redirect "$version" main stop 2>/dev/null || true
fi
echo "starting PostgreSQL $version"
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
pg_isready -h 127.0.0.1 -p 5432
