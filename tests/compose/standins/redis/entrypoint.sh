#!/bin/bash
# As the official image: without a config file, redis-server listens on every
# interface of the container and protected mode (which refuses other hosts
# when no password is set) is off; runs as the redis user.
set -euo pipefail
if [[ ${1:-} == redis-server && ${2:-} != *.conf ]]; then
    set -- "$@" --protected-mode no
fi
if [[ ${1:-} == redis-server ]]; then
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
