#!/bin/sh
# Scheduled PostgreSQL backups for the compose stack (the `backup` service), usable by hand as well:
#
#   handoff-backup loop    dump now, then every BACKUP_INTERVAL_S seconds
#   handoff-backup once    one dump, checked, then exit (0: it restored cleanly)
#   handoff-backup check   exit 0 when the last good dump is younger than two intervals (the health check)
#
# Every dump (pg_dump -Fc) is restored into a scratch database and must show the schema's version there
# before it counts; only then are the oldest dumps beyond the newest BACKUP_KEEP deleted. A dump that fails
# its check is kept as *.dump.failed for a look, and never counts towards BACKUP_KEEP.
# Connection: the libpq variables (PGHOST, PGUSER, PGDATABASE); the password from the file PGPASSWORD_FILE names.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backups}
BACKUP_INTERVAL_S=${BACKUP_INTERVAL_S:-86400}
BACKUP_KEEP=${BACKUP_KEEP:-14}
PGDATABASE=${PGDATABASE:-handoff}
CHECK_DB=${BACKUP_CHECK_DB:-${PGDATABASE}_restore_check}
export PGDATABASE

if [ -n "${PGPASSWORD_FILE:-}" ] && [ -r "$PGPASSWORD_FILE" ]; then
    PGPASSWORD=$(cat "$PGPASSWORD_FILE")
    export PGPASSWORD
fi

log() {
    # One JSON object per line, like every other process of the stack.
    printf '{"ts":"%s","level":"%s","logger":"backup","event":"%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2"
}

restore_check() {
    dropdb --if-exists "$CHECK_DB" >/dev/null 2>&1
    createdb "$CHECK_DB"
    status=0
    pg_restore --no-owner --exit-on-error -d "$CHECK_DB" "$1" >/dev/null 2>&1 || status=1
    if [ "$status" -eq 0 ]; then
        version=$(psql -d "$CHECK_DB" -tAc "SELECT version_num FROM alembic_version" 2>/dev/null || true)
        [ -n "$version" ] || status=1
    fi
    dropdb --if-exists "$CHECK_DB" >/dev/null 2>&1
    return "$status"
}

prune() {
    # Dump names sort by time; keep the newest BACKUP_KEEP good ones.
    ls -1 "$BACKUP_DIR" | grep -E '^handoff-[0-9TZ]+\.dump$' | sort -r | tail -n +"$((BACKUP_KEEP + 1))" |
        while read -r old; do
            rm -f "$BACKUP_DIR/$old"
            log info "deleted $old (beyond the newest $BACKUP_KEEP)"
        done
}

backup_once() {
    umask 077
    mkdir -p "$BACKUP_DIR"
    name="handoff-$(date -u +%Y%m%dT%H%M%SZ).dump"
    partial="$BACKUP_DIR/.$name.partial"
    if ! pg_dump -Fc -f "$partial"; then
        rm -f "$partial"
        log error "pg_dump failed; no dump made"
        return 1
    fi
    if ! restore_check "$partial"; then
        mv "$partial" "$BACKUP_DIR/$name.failed"
        log error "$name did not restore into $CHECK_DB; kept as $name.failed, older dumps left in place"
        return 1
    fi
    mv "$partial" "$BACKUP_DIR/$name"
    touch "$BACKUP_DIR/.last-ok"
    log info "$name written and restored cleanly ($(wc -c <"$BACKUP_DIR/$name") bytes)"
    prune
}

case "${1:-loop}" in
once)
    backup_once
    ;;
check)
    [ -f "$BACKUP_DIR/.last-ok" ] || exit 1
    age=$(($(date +%s) - $(date -r "$BACKUP_DIR/.last-ok" +%s)))
    [ "$age" -le "$((BACKUP_INTERVAL_S * 2))" ]
    ;;
loop)
    trap 'exit 0' TERM INT
    while :; do
        backup_once || true
        sleep "$BACKUP_INTERVAL_S" &
        wait $!
    done
    ;;
*)
    echo "usage: handoff-backup [loop|once|check]" >&2
    exit 2
    ;;
esac
