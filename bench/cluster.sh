#!/usr/bin/env bash
# Benchmark of a single pace process against a 3-process cluster.
#
#   single:  one `pace server -target all` (lone process, no gossip)
#   cluster: three `pace server -target all` joined by memberlist, RF 3
#
# Load: bench/loadgen over OTLP gRPC, CLIENTS clients in all. Against the
# cluster the clients are spread over the three distributors by running one
# loadgen per process (clients 2/1/1 for the default 4); spans/s is the sum.
# Storage: local filesystem (one block directory shared by the three
# processes, a WAL each). Reported per setup: spans/s accepted, CPU cores of
# all pace processes over the load window (utime+stime from /proc/PID/stat),
# peak RSS (VmHWM) per process, and trace-by-ID p50/p99 (bench/readback,
# READS sequential reads) against the first process's query-frontend after
# POST /flush on every process. Every process is stopped by PID (SIGTERM,
# SIGKILL after 15 s), also on error or Ctrl-C.
#
# Environment: DURATION [30s] CLIENTS [4] TRACES_PER_REQUEST [100]
#   SPANS_PER_TRACE [10] READS [200] MODES ["single cluster"]
#   PACE_BIN [] (use this binary instead of building ./cmd/pace)
#   KEEP_DATA [0] (1: keep the temp dir with logs and JSON output)
set -euo pipefail

DURATION=${DURATION:-30s}
CLIENTS=${CLIENTS:-4}
TRACES_PER_REQUEST=${TRACES_PER_REQUEST:-100}
SPANS_PER_TRACE=${SPANS_PER_TRACE:-10}
READS=${READS:-200}
MODES=${MODES:-single cluster}
PACE_BIN=${PACE_BIN:-}
KEEP_DATA=${KEEP_DATA:-0}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
for tool in go curl jq getconf python3 awk; do
	command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found" >&2; exit 1; }
done
CLK_TCK=$(getconf CLK_TCK)

D=""
PIDS=()     # pace processes of the current setup
CHILDREN=() # loadgen / readback / curl while they run

stop_pids() { # SIGTERM every pace process, SIGKILL what is left after 15 s
	local pid i alive
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for ((i = 0; i < 150; i++)); do
		alive=0
		for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[[ $alive == 0 ]] && break
		sleep 0.1
	done
	for pid in "${PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			echo "cluster.sh: pace $pid still running 15 s after SIGTERM; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
cleanup() {
	local rc=$? pid
	for pid in "${CHILDREN[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${CHILDREN[@]}"; do wait "$pid" 2>/dev/null || true; done
	stop_pids
	if [[ -n "$D" && -d "$D" ]]; then
		if [[ $KEEP_DATA == 1 ]]; then echo "cluster.sh: kept $D" >&2; else rm -rf "$D"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "cluster.sh: $*" >&2
	local f
	for f in "$D"/*/pace-*.log; do
		[[ -f $f ]] || continue
		echo "--- last lines of $f ---" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

# free_ports N: N distinct TCP ports free on 127.0.0.1 (and UDP, for memberlist).
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
n, socks, out = int(sys.argv[1]), [], []
while len(out) < n:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        s.close(); continue
    socks += [s, u]; out.append(p)
print(" ".join(map(str, out)))
EOF
}

cpu_ticks() { # utime+stime of every pace process, in clock ticks
	local pid stat total=0
	for pid in "${PIDS[@]}"; do
		stat=$(<"/proc/$pid/stat") || fail "pace $pid gone"
		stat=${stat##*) }
		# shellcheck disable=SC2086
		set -- $stat
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}
hwm_mib() { awk '$1 == "VmHWM:" { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

wait_ready() { # URL PID
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$2" 2>/dev/null || fail "pace $2 exited during startup"
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1/ready" || true) == 200 ]] && return 0
		sleep 0.1
	done
	fail "$1 not ready after 60 s"
}

echo "== build"
mkdir -p bin
if [[ -z "$PACE_BIN" ]]; then
	go build -o bin/pace ./cmd/pace
	PACE_BIN=bin/pace
fi
go build -o bin/loadgen ./bench/loadgen
go build -o bin/readback ./bench/readback

D=$(mktemp -d "${TMPDIR:-/tmp}/pace-cluster-bench.XXXXXX")
ROWS=()

run_setup() { # MODE
	local mode=$1 n rf S
	case "$mode" in
	single) n=1 rf=1 ;;
	cluster) n=3 rf=3 ;;
	*) fail "unknown mode $mode" ;;
	esac
	S="$D/$mode"
	mkdir -p "$S/blocks"
	local ports http=() grpc=() ml=() otlp=() otlph=() i
	read -r -a ports <<<"$(free_ports $((5 * n)))"
	for ((i = 0; i < n; i++)); do
		http+=("${ports[5 * i]}") grpc+=("${ports[5 * i + 1]}") ml+=("${ports[5 * i + 2]}")
		otlp+=("${ports[5 * i + 3]}") otlph+=("${ports[5 * i + 4]}")
	done
	local join=""
	for ((i = 0; i < n; i++)); do join+="${join:+,}127.0.0.1:${ml[i]}"; done

	echo "== $mode: start $n x pace -target all (RF $rf, local storage in $S/blocks)"
	for ((i = 0; i < n; i++)); do
		local args=(server -target all
			-server.http-listen-address 127.0.0.1 -server.http-listen-port "${http[i]}"
			-distributor.otlp.grpc-endpoint "127.0.0.1:${otlp[i]}"
			-distributor.otlp.http-endpoint "127.0.0.1:${otlph[i]}"
			-distributor.jaeger.grpc-endpoint= -distributor.jaeger.thrift-http-endpoint=
			-distributor.jaeger.thrift-compact-endpoint= -distributor.jaeger.thrift-binary-endpoint=
			-distributor.zipkin.endpoint=
			-storage.trace.backend local -storage.trace.local.path "$S/blocks"
			-storage.trace.wal.path "$S/wal-$i")
		if [[ $n -gt 1 ]]; then
			args+=(-server.grpc-listen-address 127.0.0.1 -server.grpc-listen-port "${grpc[i]}"
				-memberlist.bind-addr 127.0.0.1 -memberlist.bind-port "${ml[i]}" -memberlist.join "$join"
				-cluster.instance-id "pace-$i" -ingester.replication-factor "$rf")
		fi
		"$PACE_BIN" "${args[@]}" >"$S/pace-$i.log" 2>&1 &
		PIDS+=($!)
	done
	for ((i = 0; i < n; i++)); do wait_ready "http://127.0.0.1:${http[i]}" "${PIDS[i]}"; done
	if [[ $n -gt 1 ]]; then # every process sees every ingester ACTIVE
		local ok=0 j
		for ((j = 0; j < 300; j++)); do
			ok=1
			for ((i = 0; i < n; i++)); do
				local active
				active=$(curl -sf -H 'Accept: application/json' "http://127.0.0.1:${http[i]}/ingester/ring" |
					jq '[.shards[] | select(.state == "ACTIVE")] | length' 2>/dev/null || echo 0)
				[[ $active == "$n" ]] || ok=0
			done
			[[ $ok == 1 ]] && break
			sleep 0.2
		done
		[[ $ok == 1 ]] || fail "ingester ring did not show $n ACTIVE ingesters"
	fi
	echo "pids: ${PIDS[*]}"

	# Clients per loadgen: CLIENTS spread over the n distributors.
	echo "== $mode: load for $DURATION, $CLIENTS clients over $n distributor(s)"
	local t0 t1
	t0=$(cpu_ticks)
	CHILDREN=()
	for ((i = 0; i < n; i++)); do
		local c=$((CLIENTS / n + (i < CLIENTS % n ? 1 : 0)))
		[[ $c -gt 0 ]] || continue
		bin/loadgen -protocol otlp-grpc -endpoint "127.0.0.1:${otlp[i]}" -clients "$c" -duration "$DURATION" \
			-traces-per-request "$TRACES_PER_REQUEST" -spans-per-trace "$SPANS_PER_TRACE" -seed $((i + 1)) \
			-ids-out "$S/ids-$i.txt" -json >"$S/loadgen-$i.json" 2>"$S/loadgen-$i.err" &
		CHILDREN+=($!)
	done
	local pid rc=0
	for pid in "${CHILDREN[@]}"; do wait "$pid" || rc=$?; done
	CHILDREN=()
	t1=$(cpu_ticks)
	[[ $rc == 0 ]] || fail "a loadgen failed (exit $rc): $(cat "$S"/loadgen-*.err)"
	for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "pace $pid died during the load"; done
	local sps secs accepted rejected failed
	sps=$(jq -s 'map(.spans_per_second) | add | floor' "$S"/loadgen-*.json)
	secs=$(jq -s 'map(.duration_seconds) | max' "$S"/loadgen-*.json)
	accepted=$(jq -s 'map(.spans_accepted) | add' "$S"/loadgen-*.json)
	rejected=$(jq -s 'map(.spans_rejected) | add' "$S"/loadgen-*.json)
	failed=$(jq -s 'map(.requests_failed) | add' "$S"/loadgen-*.json)
	local cores
	cores=$(awk -v d="$((t1 - t0))" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.2f", d / hz / s }')
	echo "accepted $accepted spans ($sps spans/s), rejected $rejected, failed requests $failed, pace CPU $cores cores"

	echo "== $mode: flush every process"
	for ((i = 0; i < n; i++)); do
		local code
		code=$(curl -s -o "$S/flush-$i.out" -w '%{http_code}' --max-time 600 -X POST "http://127.0.0.1:${http[i]}/flush" || true)
		[[ $code == 2* ]] || fail "POST /flush on process $i answered $code: $(head -c 300 "$S/flush-$i.out")"
	done

	echo "== $mode: $READS trace-by-ID reads from process 0's query-frontend"
	cat "$S"/ids-*.txt >"$S/ids.txt"
	rc=0
	bin/readback -url "http://127.0.0.1:${http[0]}" -ids "$S/ids.txt" -n "$READS" -spans-per-trace "$SPANS_PER_TRACE" \
		-json >"$S/readback.json" &
	CHILDREN=($!)
	wait "${CHILDREN[0]}" || rc=$?
	CHILDREN=()
	[[ -s "$S/readback.json" ]] || fail "readback failed (exit $rc)"
	jq -r '"reads ok/failed \(.ok)/\(.failed), p50 \(.p50_ms) ms, p99 \(.p99_ms) ms", (.errors // [] | .[] | "  error: " + .)' "$S/readback.json"

	local rss=()
	for pid in "${PIDS[@]}"; do rss+=("$(hwm_mib "$pid")"); done
	local p50 p99 rbfail
	p50=$(jq -r .p50_ms "$S/readback.json")
	p99=$(jq -r .p99_ms "$S/readback.json")
	rbfail=$(jq -r .failed "$S/readback.json")
	ROWS+=("$(printf '%-8s %4s %3s %11s %9s %6s %-16s %7s %7s %6s' "$mode" "$n" "$rf" "$sps" "$rejected/$failed" "$cores" "$(
		IFS=/
		echo "${rss[*]}"
	)" "$p50" "$p99" "$rbfail")")

	echo "== $mode: stop"
	stop_pids
	[[ $rc == 0 ]] || fail "readback: some traces were not found whole"
}

for m in $MODES; do run_setup "$m"; done

echo
echo "== results (DURATION $DURATION, $CLIENTS clients, $TRACES_PER_REQUEST traces x $SPANS_PER_TRACE spans per request, local storage)"
printf '%-8s %4s %3s %11s %9s %6s %-16s %7s %7s %6s\n' setup procs RF "spans/s" "rej/fail" cores "peak RSS MiB" "p50 ms" "p99 ms" "rbfail"
for r in "${ROWS[@]}"; do echo "$r"; done
