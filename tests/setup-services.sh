#!/usr/bin/env bash
# Prepare a Debian 12 (bookworm) box for the pbx test suite: install the
# external test dependencies, start MariaDB + PostgreSQL on loopback and create
# database `pbx_test` / user `pbx` (password `pbx`) in both.
#
# Runs as root, idempotent, works without systemd as PID 1 (uses the SysV init
# script for MariaDB and pg_ctlcluster for PostgreSQL).
#
# Usage:  eval "$(tests/setup-services.sh)"
# Only the final `export ...` lines go to stdout; all progress goes to stderr.
set -euo pipefail

# Debian packages the tests need. Add more here (baresip-core, redis-server, ...).
PACKAGES="mariadb-server postgresql sip-tester python3 python3-pip systemd rpm openssl baresip-core tmux nftables"

DB=pbx_test DB_USER=pbx DB_PASS=pbx
MYSQL_PORT=3306 PG_PORT=5432
WAIT_SECS=60

log() { echo "setup-services: $*" >&2; }
die() { echo "setup-services: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"

# wait_for DESCRIPTION CMD...: poll CMD until it succeeds, at most $WAIT_SECS.
wait_for() {
  local what=$1; shift
  for _ in $(seq "$WAIT_SECS"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  die "$what not ready after ${WAIT_SECS}s"
}

# write_if_changed FILE CONTENT: returns 0 if the file was (re)written.
write_if_changed() {
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ] && return 1
  printf '%s\n' "$2" >"$1"
}

# All work runs inside main() with stdout sent to stderr. Don't use
# `exec 3>&1 1>&2` instead: the started daemons would inherit fd 3 and
# `$(setup-services.sh)` would then hang forever (bash marks the stdout copy it
# saves for `main >&2` close-on-exec, so daemons never see it).
main() {
# --- 1. packages ------------------------------------------------------------
missing=()
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# schemathesis (PyPI) tests the reporting API against its OpenAPI document.
if ! command -v schemathesis >/dev/null; then
  log "installing schemathesis (pip)"
  python3 -m pip install --quiet schemathesis 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages schemathesis
fi

# --- 2a. MariaDB --------------------------------------------------------------
# 99- sorts after Debian's 50-server.cnf, so these settings win.
restart_mysql=0
write_if_changed /etc/mysql/mariadb.conf.d/99-pbx-test.cnf "[mysqld]
bind-address = 127.0.0.1
port = $MYSQL_PORT" && restart_mysql=1

mysql_up() { mysqladmin --protocol=socket ping; }   # root uses unix_socket auth
if mysql_up >/dev/null 2>&1; then
  if [ $restart_mysql = 1 ]; then log "restarting MariaDB (config changed)"; service mariadb restart; fi
else
  log "starting MariaDB"
  service mariadb start
fi
wait_for "MariaDB" mysql_up

mysql --protocol=socket <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB\`;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
-- test box: tests create/drop their own databases
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- 2b. PostgreSQL -----------------------------------------------------------
PG_VER=$(ls /usr/lib/postgresql | sort -V | tail -1)
PG_ETC=/etc/postgresql/$PG_VER/main
# The package normally creates the `main` cluster; create it if it was dropped.
[ -d "$PG_ETC" ] || pg_createcluster "$PG_VER" main --port "$PG_PORT"

restart_pg=0
write_if_changed "$PG_ETC/conf.d/99-pbx-test.conf" "listen_addresses = '127.0.0.1'
port = $PG_PORT" && restart_pg=1
# Password auth for pbx over TCP. Debian's default pg_hba already has
# scram-sha-256 for 127.0.0.1; pin it anyway (first matching line wins).
HBA_LINE="host all $DB_USER 127.0.0.1/32 scram-sha-256"
if ! grep -qxF "$HBA_LINE" "$PG_ETC/pg_hba.conf"; then
  sed -i "1i $HBA_LINE" "$PG_ETC/pg_hba.conf"
  restart_pg=1
fi

if pg_ctlcluster "$PG_VER" main status >/dev/null 2>&1; then
  if [ $restart_pg = 1 ]; then log "restarting PostgreSQL (config changed)"; pg_ctlcluster "$PG_VER" main restart; fi
else
  log "starting PostgreSQL $PG_VER"
  pg_ctlcluster "$PG_VER" main start
fi
wait_for "PostgreSQL" pg_isready -q -h 127.0.0.1 -p "$PG_PORT"

pg() { (cd / && runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt -p "$PG_PORT" "$@"); }
pg <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER;
  END IF;
END \$\$;
ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
SQL
# CREATE DATABASE cannot run inside DO/transaction blocks.
[ "$(pg -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" = 1 ] \
  || pg -c "CREATE DATABASE $DB OWNER $DB_USER"
pg -c "ALTER DATABASE $DB OWNER TO $DB_USER"

# --- 3. verify as the test suite will connect ---------------------------------
mysql -h127.0.0.1 -P"$MYSQL_PORT" -u"$DB_USER" -p"$DB_PASS" "$DB" -e 'SELECT 1' >/dev/null \
  || die "cannot connect to MariaDB as $DB_USER over TCP"
PGPASSWORD=$DB_PASS psql -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" "$DB" -qAt -c 'SELECT 1' >/dev/null \
  || die "cannot connect to PostgreSQL as $DB_USER over TCP (check $PG_ETC/pg_hba.conf)"
log "MariaDB and PostgreSQL ready"
}
main >&2

# --- 4. results for the caller ------------------------------------------------
echo "export PBX_TEST_MYSQL_URL=mysql://$DB_USER:$DB_PASS@127.0.0.1:$MYSQL_PORT/$DB"
echo "export PBX_TEST_POSTGRES_URL=postgres://$DB_USER:$DB_PASS@127.0.0.1:$PG_PORT/$DB"
