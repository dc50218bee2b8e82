#!/usr/bin/env bash
# How long `pace up` takes to be ready (coherent, every worker ready, the
# access point taking traffic), from a built binary: N runs per mode on a
# fresh data directory, as pace up reports it. See bench/README.md.
#
# Environment: N [5] runs per mode, MODES [monolithic minimal-microservices
# recommended-microservices], PORT_OFFSET [1000], WORKER_PORT_BASE [12000].
set -euo pipefail
N=${N:-5}
MODES=${MODES:-monolithic minimal-microservices recommended-microservices}
PORT_OFFSET=${PORT_OFFSET:-1000}
WORKER_PORT_BASE=${WORKER_PORT_BASE:-12000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
go build -o bin/pace ./cmd/pace
D=$(mktemp -d)
UP_PID=""
cleanup() {
	[[ -n "$UP_PID" ]] && kill -INT "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
for mode in $MODES; do
	times=()
	for i in $(seq "$N"); do
		rm -rf "$D/data" "$D/out"
		bin/pace up --mode "$mode" --data "$D/data" --port-offset "$PORT_OFFSET" --worker-port-base "$WORKER_PORT_BASE" >"$D/out" 2>&1 &
		UP_PID=$!
		for _ in $(seq 600); do
			grep -q ' is up in ' "$D/out" && break
			kill -0 "$UP_PID" 2>/dev/null || { cat "$D/out" >&2; exit 1; }
			sleep 0.1
		done
		t=$(sed -n 's/.* is up in \([0-9.]*\)s.*/\1/p' "$D/out")
		[[ -n "$t" ]] || { cat "$D/out" >&2; exit 1; }
		times+=("$t")
		kill -INT "$UP_PID"
		wait "$UP_PID" || true
		UP_PID=""
	done
	printf '%-26s ready in (s): %s  max %s\n' "$mode" "${times[*]}" "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)"
done
