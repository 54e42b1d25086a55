#!/bin/bash
# The official image's first-start contract, for the parts compose uses.
set -euo pipefail
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [[ ${1:-} != postgres ]]; then exec "$@"; fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
[[ -n ${POSTGRES_PASSWORD:-} ]] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    pw=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
    chown postgres "$pw"
    as_pg initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pw" -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pw"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    # Initialisation on the socket only, as the official image does: TCP clients
    # (and the TCP health check) see the server only once it is complete.
    as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [[ $POSTGRES_DB != postgres ]]; then
        as_pg createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sql) echo "running $f"; as_pg psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
            *.sh)  echo "running $f"; . "$f" ;;
        esac
    done
    as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "initialisation complete"
fi
shift
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*' "$@"
