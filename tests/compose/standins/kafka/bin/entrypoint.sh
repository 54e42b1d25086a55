#!/bin/bash
set -euo pipefail
conf=/opt/kafka/config/server.properties
: >"$conf"
# KAFKA_FOO_BAR=x → foo.bar=x (as the official image: ___ → -, __ → _).
while IFS='=' read -r name _; do
    case $name in
        KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS) continue ;;
        KAFKA_*) ;;
        *) continue ;;
    esac
    key=${name#KAFKA_}
    key=${key,,}
    key=${key//___/-}
    key=${key//__/@}
    key=${key//_/.}
    key=${key//@/_}
    printf '%s=%s\n' "$key" "${!name}" >>"$conf"
done < <(env)
logdir=$(sed -n 's/^log\.dirs=//p' "$conf" | cut -d, -f1)
if [[ -z $logdir ]]; then
    logdir=/var/lib/kafka/data
    printf 'log.dirs=%s\n' "$logdir" >>"$conf"
fi
mkdir -p "$logdir"
cp_opts=(-cp '/opt/kafka/libs/*' -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties)
if [[ ! -f $logdir/meta.properties ]]; then
    [[ -n ${CLUSTER_ID:-} ]] || { echo "CLUSTER_ID is required to format $logdir" >&2; exit 1; }
    java -Xmx256m "${cp_opts[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$conf" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -Djava.awt.headless=true "${cp_opts[@]}" kafka.Kafka "$conf"
