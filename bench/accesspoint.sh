#!/usr/bin/env bash
# What the access point costs: OTLP gRPC ingest throughput of one
# distributor (a single `all` worker) sent to directly, and the same sent
# through the coordinator's access point. Each run starts a fresh cluster
# on an empty directory; runs go direct, proxied, proxied, direct.
# See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION [20s] per run   CLIENTS [4]   TRACES_PER_REQUEST [100]
#   SPANS_PER_TRACE [10]     COORD_OFFSET [1000]  WORKER_OFFSET [2000]
#   PROTOCOL [otlp-grpc] (otlp-http)   KEEP_DATA [0]
set -euo pipefail

DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-4}
TRACES_PER_REQUEST=${TRACES_PER_REQUEST:-100}
SPANS_PER_TRACE=${SPANS_PER_TRACE:-10}
COORD_OFFSET=${COORD_OFFSET:-1000}
WORKER_OFFSET=${WORKER_OFFSET:-2000}
PROTOCOL=${PROTOCOL:-otlp-grpc}
KEEP_DATA=${KEEP_DATA:-0}

case "$PROTOCOL" in
otlp-grpc) PORT=4317 ;;
otlp-http) PORT=4318 ;;
*)
	echo "accesspoint.sh: PROTOCOL must be otlp-grpc or otlp-http" >&2
	exit 2
	;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
D=$(mktemp -d)
PIDS=()
cleanup() {
	stop_all
	[[ $KEEP_DATA == 1 ]] && echo "data kept in $D" || rm -rf "$D"
}
trap cleanup EXIT
stop_all() {
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	PIDS=()
}

go build -o bin/pace ./cmd/pace
go build -o bin/loadgen ./bench/loadgen

COORD="http://127.0.0.1:$((3200 + COORD_OFFSET))"
# fresh N: a new coordinator and worker on an empty data directory, so
# that every run starts from the same state (a worker slows down as its
# data grows, which would otherwise fall on whichever run comes later).
fresh() {
	stop_all
	local d="$D/run$1"
	mkdir -p "$d"
	cat >"$d/coordinator.yaml" <<YAML
bind_address: 127.0.0.1
public_address: 127.0.0.1
port_offset: $COORD_OFFSET
storage:
  backend: local
  local:
    path: $d/blocks
receivers: [otlp_grpc, otlp_http]
heartbeat_interval: 250ms
health_check_interval: 250ms
YAML
	bin/pace coordinator -config.file "$d/coordinator.yaml" >"$d/coordinator.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do curl -fs "$COORD/ready" >/dev/null 2>&1 && break; sleep 0.1; done
	bin/pace worker --coordinator "$COORD" --role all --name bench-worker --bind-address 127.0.0.1 --address 127.0.0.1 \
		--port-offset "$WORKER_OFFSET" --data "$d/worker" >"$d/worker.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 300); do
		curl -fs "$COORD/api/v1/receivers" 2>/dev/null | grep -q '"ready":true' && break
		sleep 0.1
	done
	curl -fs "$COORD/api/v1/receivers" | grep -q '"ready":true' || {
		echo "cluster not ready; worker log:" >&2
		tail -20 "$d/worker.log" >&2
		exit 1
	}
}

run() { # name port
	bin/loadgen -protocol "$PROTOCOL" -endpoint "127.0.0.1:$2" -clients "$CLIENTS" -duration "$DURATION" \
		-traces-per-request "$TRACES_PER_REQUEST" -spans-per-trace "$SPANS_PER_TRACE" -json >"$D/$1.json" || {
		echo "loadgen failed on $1" >&2
		exit 1
	}
	python3 - "$D/$1.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<8} {r['spans_per_second']:>10.0f} spans/s  p50 {r['latency_p50_ms']:.1f} ms  p99 {r['latency_p99_ms']:.1f} ms  failed {r['requests_failed']}")
PY
}
direct=$((PORT + WORKER_OFFSET))
proxied=$((PORT + COORD_OFFSET))
fresh 1
run direct1 $direct
fresh 2
[[ -n "${PROFILE:-}" ]] && (sleep 5; curl -s -o "$PROFILE" "$COORD/debug/pprof/profile?seconds=10") &
run proxy1 $proxied
fresh 3
run proxy2 $proxied
fresh 4
run direct2 $direct
python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
s = lambda n: json.load(open(f"{d}/{n}.json"))["spans_per_second"]
direct, proxy = (s("direct1") + s("direct2")) / 2, (s("proxy1") + s("proxy2")) / 2
print(f"direct {direct:.0f} spans/s, through the access point {proxy:.0f} spans/s: ratio {proxy / direct:.3f}")
PY
