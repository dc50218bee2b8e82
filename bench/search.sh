#!/usr/bin/env bash
# Search benchmark: loads SPANS spans of the bench dataset (bench/gen) into a
# fresh `pace server`, flushes them to blocks, then measures search latency
# with bench/searchbench: the TraceQL query of issue 5, a rare query, tag
# values and a metrics query. See bench/README.md.
#
# Environment (defaults in brackets):
#   SPANS [1000000]  RATE [100000] spans/s while loading  N [200] requests per query
#   N_SLOW [10] requests of the queries that read every block (needle, count(), metrics)
#   HTTP_PORT [3200]  GRPC_PORT [4317]  PACE_ARGS [] (extra server flags)
#   KEEP_DATA [0]  PACE_BIN [] (a server binary instead of building ./cmd/pace)
set -euo pipefail

SPANS=${SPANS:-1000000}
RATE=${RATE:-100000}
N=${N:-200}
N_SLOW=${N_SLOW:-10}
HTTP_PORT=${HTTP_PORT:-3200}
GRPC_PORT=${GRPC_PORT:-4317}
PACE_ARGS=${PACE_ARGS:-}
KEEP_DATA=${KEEP_DATA:-0}
PACE_BIN=${PACE_BIN:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE="http://127.0.0.1:${HTTP_PORT}"
D=""
PID=""
cleanup() {
	local rc=$?
	if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	if [[ -n "$D" && -d "$D" && "$KEEP_DATA" != 1 ]]; then rm -rf "$D"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
	echo "search.sh: $*" >&2
	[[ -n "$D" && -f "$D/server.log" ]] && tail -n 30 "$D/server.log" >&2
	exit 1
}

echo "== build"
mkdir -p bin
if [[ -z "$PACE_BIN" ]]; then
	go build -o bin/pace ./cmd/pace
	PACE_BIN=bin/pace
fi
go build -o bin/loadgen ./bench/loadgen
go build -o bin/searchbench ./bench/searchbench
if curl -s -o /dev/null --max-time 1 "$BASE/ready"; then
	fail "something already answers on $BASE; set HTTP_PORT/GRPC_PORT"
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/pace-search.XXXXXX")
echo "== start server (data in $D)"
# Compaction off: the figures are for the blocks as the ingester wrote them.
# shellcheck disable=SC2086 # PACE_ARGS is split on purpose
"$PACE_BIN" server -target all \
	-server.http-listen-address 127.0.0.1 -server.http-listen-port "$HTTP_PORT" \
	-distributor.otlp.grpc-endpoint "127.0.0.1:$GRPC_PORT" -distributor.otlp.http-endpoint "" \
	-distributor.zipkin.endpoint "" -distributor.jaeger.thrift-http-endpoint "" -distributor.jaeger.grpc-endpoint "" \
	-distributor.jaeger.thrift-compact-endpoint "" -distributor.jaeger.thrift-binary-endpoint "" \
	-storage.trace.backend local -storage.trace.local.path "$D/blocks" -storage.trace.wal.path "$D/wal" \
	-compactor.compaction-cycle 1h \
	$PACE_ARGS >"$D/server.log" 2>&1 &
PID=$!
for ((i = 0; i < 600; i++)); do
	kill -0 "$PID" 2>/dev/null || fail "server exited during startup"
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/ready" || true) == 200 ]] && break
	sleep 0.1
done

secs=$(awk -v s="$SPANS" -v r="$RATE" 'BEGIN { printf "%.0f", s / r * 1.1 + 1 }')
echo "== load: about $SPANS spans at $RATE spans/s (${secs}s), 10 spans per trace"
bin/loadgen -endpoint "127.0.0.1:$GRPC_PORT" -clients 4 -duration "${secs}s" -rate "$RATE" -json >"$D/loadgen.json" ||
	fail "loadgen failed"
jq -r '"spans accepted \(.spans_accepted), rejected \(.spans_rejected)"' "$D/loadgen.json"
echo "== flush to blocks"
curl -sf -X POST --max-time 600 "$BASE/flush" || fail "flush failed"
blocks=$(find "$D/blocks" -name meta.json | wc -l)
bytes=$(du -sb "$D/blocks" | cut -f1)
echo "blocks $blocks, $((bytes / 1024 / 1024)) MiB on disk"

echo "== queries, one at a time: $N each"
bin/searchbench -url "$BASE" -n "$N" \
	-search '{ resource.service.name = "foo" && span.http.status_code = 500 }' \
	-values 'resource.service.name' \
	-values 'span.http.method'
[[ $N_SLOW -gt 0 ]] || exit 0
echo "== queries that read every block: $N_SLOW each"
bin/searchbench -url "$BASE" -n "$N_SLOW" -warmup 1 \
	-search '{ resource.service.name = "foo" && span.http.status_code = 500 && span.user.id = "user-00042" }' \
	-search '{ span.http.status_code = 500 } | count() > 2' \
	-metrics '{ status = error } | rate() by (resource.service.name)'
