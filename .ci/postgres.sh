#!/usr/bin/env bash
# PostgreSQL for the test suite: Debian's server on 127.0.0.1:5432, role `runflow` (password `runflow`, CREATEDB:
# the tests create and drop a database per test) and database `runflow_test` owned by it.
#
# Idempotent and non-interactive (CI=true, root, no stdin); installs the `postgresql` package when the server is
# missing, starts (or creates) the cluster `main` of the newest installed version. Run it as root, or as a user with
# sudo. Progress goes to stderr; the last line on stdout is the URL, so both of these work:
#
#   .ci/postgres.sh
#   eval "$(.ci/postgres.sh --export)"   # sets RUNFLOW_TEST_POSTGRES_URL in the calling shell
set -euo pipefail

PG_ROLE=runflow
PG_PASSWORD=runflow
PG_DB=runflow_test
PG_HOST=127.0.0.1
PG_PORT=5432
URL="postgresql+psycopg://${PG_ROLE}:${PG_PASSWORD}@${PG_HOST}:${PG_PORT}/${PG_DB}"

say() { echo "postgres.sh: $*" >&2; }
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
as_postgres() { (cd / && "${SUDO[@]}" runuser -u postgres -- "$@"); }

server_installed() {
  command -v pg_ctlcluster >/dev/null 2>&1 && compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

if ! server_installed; then
  say "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq </dev/null >&2
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends postgresql </dev/null >&2
fi
server_installed || { say "the PostgreSQL server is still missing after installing it"; exit 1; }

VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "${VERSION} main"; then
  say "creating cluster ${VERSION}/main on ${PG_HOST}:${PG_PORT}"
  "${SUDO[@]}" pg_createcluster "${VERSION}" main --port "${PG_PORT}" -- --auth-local=peer \
    --auth-host=scram-sha-256 >&2
fi
CURRENT_PORT=$(pg_lsclusters -h | awk -v v="${VERSION}" '$1 == v && $2 == "main" {print $3}')
if [ "${CURRENT_PORT}" != "${PG_PORT}" ]; then
  say "moving cluster ${VERSION}/main from port ${CURRENT_PORT} to ${PG_PORT}"
  "${SUDO[@]}" pg_ctlcluster "${VERSION}" main stop >&2 2>/dev/null || true
  "${SUDO[@]}" pg_conftool "${VERSION}" main set port "${PG_PORT}"
fi
if ! "${SUDO[@]}" pg_ctlcluster "${VERSION}" main status >/dev/null 2>&1; then
  say "starting cluster ${VERSION}/main"
  "${SUDO[@]}" pg_ctlcluster "${VERSION}" main start >&2
fi
for _ in $(seq 1 60); do
  pg_isready -q -h "${PG_HOST}" -p "${PG_PORT}" && break
  sleep 0.5
done
pg_isready -h "${PG_HOST}" -p "${PG_PORT}" >&2 || { say "PostgreSQL does not answer on ${PG_HOST}:${PG_PORT}"; exit 1; }

as_postgres psql -p "${PG_PORT}" -v ON_ERROR_STOP=1 -qAt >&2 <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_ROLE}') THEN
    CREATE ROLE ${PG_ROLE} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  ELSE
    ALTER ROLE ${PG_ROLE} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  END IF;
END
\$\$;
SQL
if [ -z "$(as_postgres psql -p "${PG_PORT}" -qAt -c "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'" </dev/null)" ]; then
  as_postgres createdb -p "${PG_PORT}" -O "${PG_ROLE}" "${PG_DB}" </dev/null >&2
fi
# The role and password work over TCP on loopback (what the tests use).
PGPASSWORD="${PG_PASSWORD}" psql -h "${PG_HOST}" -p "${PG_PORT}" -U "${PG_ROLE}" -d "${PG_DB}" -qAt \
  -c "SELECT 1" </dev/null >/dev/null
say "ready: PostgreSQL ${VERSION} on ${PG_HOST}:${PG_PORT}, database ${PG_DB} (owner ${PG_ROLE})"

if [ "${1:-}" = "--export" ]; then
  echo "export RUNFLOW_TEST_POSTGRES_URL=${URL}"
else
  echo "${URL}"
fi
