#!/bin/sh
# Makes the passwords the compose stack keeps for itself, as Docker secret files under deploy/secrets/:
# the PostgreSQL and Redis passwords, and the two connection URLs that carry them. A file that exists is left
# as it is, so running this again changes nothing (see deploy/README.md, "Key rotation", to change one).
set -eu

dir=$(cd "$(dirname "$0")" && pwd)/secrets
mkdir -p "$dir"
# The folder keeps the host's other users out. The files stay readable inside the containers, whose
# processes run as users of their own (Compose mounts secret files with the host's permissions).
chmod 700 "$dir"

random() {
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32
}

write() {
    if [ -s "$dir/$1" ]; then
        echo "kept    deploy/secrets/$1"
        return
    fi
    printf '%s\n' "$2" >"$dir/$1"
    chmod 644 "$dir/$1"
    echo "made    deploy/secrets/$1"
}

write postgres_password "$(random)"
write redis_password "$(random)"
write database_url "postgresql+asyncpg://handoff:$(cat "$dir/postgres_password")@postgres:5432/handoff"
write redis_url "redis://:$(cat "$dir/redis_password")@redis:6379/0"
