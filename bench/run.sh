#!/usr/bin/env bash
# End-to-end benchmark of pace: ingest throughput over OTLP/gRPC (or the
# protocol PROTOCOL names), server CPU
# and peak memory, bytes per span on disk after a flush, and trace-by-ID
# latency from blocks. See bench/README.md.
#
# Environment (defaults in brackets):
#   DURATION [60s]  CLIENTS [4]  TRACES_PER_REQUEST [100]  SPANS_PER_TRACE [10]
#   READS [200]     TENANT []    HTTP_PORT [3200]  GRPC_PORT [4317]
#   OTLP_HTTP_PORT [4318]        PACE_ARGS [] (extra server flags)
#   PROTOCOL [otlp-grpc] (otlp-http, zipkin-json, zipkin-proto,
#     jaeger-thrift-http, jaeger-grpc, jaeger-udp-compact)
#   ZIPKIN_PORT [9411]  JAEGER_HTTP_PORT [14268]  JAEGER_GRPC_PORT [14250]
#   JAEGER_COMPACT_PORT [6831]  JAEGER_BINARY_PORT [6832]
#   RATE [0: unlimited; 100000 for jaeger-udp-compact] spans/s the load
#     generator offers (UDP has no backpressure, so it needs a rate)
#   READ_FORMAT [json|protobuf]  KEEP_DATA [0] (1: keep the temp dir)
#   PACE_BIN [] (use this server binary instead of building ./cmd/pace)
set -euo pipefail

DURATION=${DURATION:-60s}
CLIENTS=${CLIENTS:-4}
TRACES_PER_REQUEST=${TRACES_PER_REQUEST:-100}
SPANS_PER_TRACE=${SPANS_PER_TRACE:-10}
READS=${READS:-200}
TENANT=${TENANT:-}
HTTP_PORT=${HTTP_PORT:-3200}
GRPC_PORT=${GRPC_PORT:-4317}
OTLP_HTTP_PORT=${OTLP_HTTP_PORT:-4318}
PROTOCOL=${PROTOCOL:-otlp-grpc}
ZIPKIN_PORT=${ZIPKIN_PORT:-9411}
JAEGER_HTTP_PORT=${JAEGER_HTTP_PORT:-14268}
JAEGER_GRPC_PORT=${JAEGER_GRPC_PORT:-14250}
JAEGER_COMPACT_PORT=${JAEGER_COMPACT_PORT:-6831}
JAEGER_BINARY_PORT=${JAEGER_BINARY_PORT:-6832}
PACE_ARGS=${PACE_ARGS:-}
READ_FORMAT=${READ_FORMAT:-json}
KEEP_DATA=${KEEP_DATA:-0}
PACE_BIN=${PACE_BIN:-}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE="http://127.0.0.1:${HTTP_PORT}"

case "$PROTOCOL" in
otlp-grpc) LOAD_PORT=$GRPC_PORT ;;
otlp-http) LOAD_PORT=$OTLP_HTTP_PORT ;;
zipkin-json | zipkin-proto) LOAD_PORT=$ZIPKIN_PORT ;;
jaeger-thrift-http) LOAD_PORT=$JAEGER_HTTP_PORT ;;
jaeger-grpc) LOAD_PORT=$JAEGER_GRPC_PORT ;;
jaeger-udp-compact) LOAD_PORT=$JAEGER_COMPACT_PORT ;;
*)
	echo "run.sh: unknown PROTOCOL $PROTOCOL" >&2
	exit 2
	;;
esac
UDP=0
[[ $PROTOCOL == jaeger-udp-compact ]] && UDP=1
RATE=${RATE:-}
[[ -z "$RATE" ]] && { [[ $UDP == 1 ]] && RATE=100000 || RATE=0; }
if [[ $UDP == 1 && -n "$TENANT" ]]; then
	echo "run.sh: TENANT is not sent over UDP; ignoring it" >&2
	TENANT=""
fi

for tool in go curl jq getconf du; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

D=""
PID=""   # the server
CHILD="" # loadgen, readback or curl while one runs

# run_child CMD...: run CMD in the background and wait for it, so a signal to this
# script is handled at once and cleanup can stop CMD.
run_child() {
	"$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}
stop_server() {
	[[ -n "$PID" ]] || return 0
	if kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		local i
		for ((i = 0; i < 150; i++)); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$PID" 2>/dev/null; then
			echo "run.sh: server $PID still running 15 s after SIGTERM; sending SIGKILL" >&2
			kill -KILL "$PID" 2>/dev/null || true
		fi
	fi
	wait "$PID" 2>/dev/null || true
	PID=""
}
cleanup() {
	local rc=$?
	if [[ -n "$CHILD" ]]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	stop_server
	if [[ -n "$D" && -d "$D" ]]; then
		if [[ "$KEEP_DATA" == 1 ]]; then
			echo "run.sh: kept $D" >&2
		else
			rm -rf "$D"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "run.sh: $*" >&2
	if [[ -n "$D" && -f "$D/server.log" ]]; then
		echo "--- last lines of the server log ---" >&2
		tail -n 30 "$D/server.log" >&2
	fi
	exit 1
}

echo "== build"
mkdir -p bin
if [[ -z "$PACE_BIN" ]]; then
	go build -o bin/pace ./cmd/pace
	PACE_BIN=bin/pace
fi
go build -o bin/loadgen ./bench/loadgen
go build -o bin/readback ./bench/readback

if curl -s -o /dev/null --max-time 1 "$BASE/ready"; then
	fail "something already answers on $BASE; set HTTP_PORT/GRPC_PORT/OTLP_HTTP_PORT (and ZIPKIN_PORT, JAEGER_*_PORT)"
fi

D=$(mktemp -d "${TMPDIR:-/tmp}/pace-bench.XXXXXX")
mkdir -p "$D/blocks" "$D/wal"

echo "== start server (data in $D)"
# shellcheck disable=SC2086 # PACE_ARGS is split on purpose
"$PACE_BIN" server -target all \
	-server.http-listen-address 127.0.0.1 -server.http-listen-port "$HTTP_PORT" \
	-distributor.otlp.grpc-endpoint "127.0.0.1:$GRPC_PORT" \
	-distributor.otlp.http-endpoint "127.0.0.1:$OTLP_HTTP_PORT" \
	-distributor.zipkin.endpoint "127.0.0.1:$ZIPKIN_PORT" \
	-distributor.jaeger.thrift-http-endpoint "127.0.0.1:$JAEGER_HTTP_PORT" \
	-distributor.jaeger.grpc-endpoint "127.0.0.1:$JAEGER_GRPC_PORT" \
	-distributor.jaeger.thrift-compact-endpoint "127.0.0.1:$JAEGER_COMPACT_PORT" \
	-distributor.jaeger.thrift-binary-endpoint "127.0.0.1:$JAEGER_BINARY_PORT" \
	-storage.trace.backend local \
	-storage.trace.local.path "$D/blocks" \
	-storage.trace.wal.path "$D/wal" \
	$PACE_ARGS >"$D/server.log" 2>&1 &
PID=$!
echo "server pid $PID"

ready=0
for ((i = 0; i < 600; i++)); do
	kill -0 "$PID" 2>/dev/null || fail "server exited during startup"
	if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/ready" || true) == 200 ]]; then
		ready=1
		break
	fi
	sleep 0.1
done
[[ $ready == 1 ]] || fail "server not ready after 60 s"

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of the server, in clock ticks
	local stat
	stat=$(<"/proc/$PID/stat") || fail "server $PID gone"
	stat=${stat##*) } # fields after "pid (comm) "; field 3 (state) is now $1
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
# spans_stored: pace_distributor_spans_received_total summed over tenants
# and protocols (spans the distributor accepted).
spans_stored() {
	curl -sf --max-time 5 "$BASE/metrics" |
		awk '/^pace_distributor_spans_received_total[{ ]/ { s += $NF } END { printf "%.0f\n", s }' ||
		fail "cannot read $BASE/metrics"
}

echo "== load: $PROTOCOL to 127.0.0.1:$LOAD_PORT, $CLIENTS clients for $DURATION, rate $RATE spans/s (0: unlimited), $TRACES_PER_REQUEST traces x $SPANS_PER_TRACE spans per request"
tenant_args=()
[[ -n "$TENANT" ]] && tenant_args=(-tenant "$TENANT")
stored0=$(spans_stored)
t0_ticks=$(cpu_ticks)
lg_rc=0
run_child bin/loadgen -protocol "$PROTOCOL" -endpoint "127.0.0.1:$LOAD_PORT" -clients "$CLIENTS" -duration "$DURATION" -rate "$RATE" \
	-traces-per-request "$TRACES_PER_REQUEST" -spans-per-trace "$SPANS_PER_TRACE" \
	"${tenant_args[@]}" -ids-out "$D/ids.txt" -json >"$D/loadgen.json" || lg_rc=$?
drain_secs=0
if [[ $UDP == 1 ]]; then
	# Nothing acknowledges a datagram: wait until the server has decoded what
	# it queued (its counter stops moving), at most 10 s, and count that.
	t_drain=$(date +%s.%N)
	prev=-1
	for ((i = 0; i < 40; i++)); do
		cur=$(spans_stored)
		[[ $cur == "$prev" ]] && break
		prev=$cur
		sleep 0.25
	done
	drain_secs=$(awk -v a="$t_drain" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a - 0.25 }')
fi
t1_ticks=$(cpu_ticks)
stored1=$(spans_stored)
kill -0 "$PID" 2>/dev/null || fail "server died during the load"
[[ -s "$D/loadgen.json" ]] || fail "loadgen failed (exit $lg_rc)"
hwm_load_kb=$(status_kb VmHWM)
jq -r '"requests ok/failed \(.requests_ok)/\(.requests_failed), spans accepted \(.spans_accepted), rejected \(.spans_rejected), \(.spans_per_second|floor) spans/s, latency p50 \(.latency_p50_ms) ms p99 \(.latency_p99_ms) ms", (.errors // [] | .[] | "  error: " + .)' "$D/loadgen.json"
[[ $lg_rc == 0 ]] || fail "loadgen exited $lg_rc (no request succeeded)"

load_secs=$(jq -r .duration_seconds "$D/loadgen.json")
spans_stored=$((stored1 - stored0))
if [[ $UDP == 1 ]]; then
	# The figures come from the server: spans it decoded and accepted over
	# the send window plus the drain.
	load_secs=$(awk -v a="$load_secs" -v b="$drain_secs" 'BEGIN { printf "%.3f", a + (b > 0 ? b : 0) }')
	spans_accepted=$spans_stored
	spans_sent=$(jq -r .spans_sent "$D/loadgen.json")
	spans_per_second=$(awk -v n="$spans_accepted" -v s="$load_secs" 'BEGIN { printf "%.1f", n / s }')
	spans_rejected=$((spans_sent - spans_stored)) # lost: dropped or undecodable
	echo "UDP: $(jq -r .datagrams_sent "$D/loadgen.json") datagrams, $spans_sent spans sent, $spans_stored stored by the server (drained in ${drain_secs}s), $spans_rejected lost, $spans_per_second spans/s"
else
	spans_accepted=$(jq -r .spans_accepted "$D/loadgen.json")
	spans_per_second=$(jq -r .spans_per_second "$D/loadgen.json")
	spans_rejected=$(jq -r .spans_rejected "$D/loadgen.json")
	echo "server counted $spans_stored spans received (loadgen: $spans_accepted accepted)"
fi
# Only the server's CPU is counted; the window is loadgen's send window
# (request generation before it leaves the server idle), for UDP plus the drain.
cpu_cores=$(awk -v d="$((t1_ticks - t0_ticks))" -v hz="$CLK_TCK" -v s="$load_secs" 'BEGIN { printf "%.2f", d / hz / s }')

echo "== flush"
t_flush=$(date +%s.%N)
run_child curl -s -o "$D/flush.out" -w '%{http_code}' --max-time 600 -X POST "$BASE/flush" >"$D/flush.code" || true
code=$(<"$D/flush.code")
flush_secs=$(awk -v a="$t_flush" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
[[ $code == 2* ]] || fail "POST /flush answered $code: $(head -c 300 "$D/flush.out")"
echo "flush: HTTP $code in ${flush_secs}s"
# Live blocks only: inputs a compaction replaced (they carry compacted.json)
# stay readable for compacted_block_retention and are then deleted.
disk_bytes=0
for dir in "$D"/blocks/*/*/; do
  [ -f "$dir/meta.json" ] && [ ! -f "$dir/compacted.json" ] || continue
  disk_bytes=$((disk_bytes + $(du -sb "$dir" | cut -f1)))
done
bytes_per_span=$(awk -v b="$disk_bytes" -v n="$spans_accepted" 'BEGIN { printf "%.1f", (n > 0 ? b / n : 0) }')
echo "live blocks on disk: $disk_bytes bytes, $bytes_per_span bytes/span"

echo "== trace by ID: $READS sequential reads"
rb_rc=0
run_child bin/readback -url "$BASE" -ids "$D/ids.txt" -n "$READS" -spans-per-trace "$SPANS_PER_TRACE" \
	-format "$READ_FORMAT" "${tenant_args[@]}" -json >"$D/readback.json" || rb_rc=$?
[[ -s "$D/readback.json" ]] || fail "readback failed (exit $rb_rc)"
if [[ $UDP == 1 && $rb_rc != 0 ]]; then
	echo "(UDP: sampled traces may have lost datagrams; read-back failures are not fatal)"
	rb_rc=0
fi
jq -r '"reads ok/failed \(.ok)/\(.failed), p50 \(.p50_ms) ms, p99 \(.p99_ms) ms, max \(.max_ms) ms", (.errors // [] | .[] | "  error: " + .)' "$D/readback.json"

kill -0 "$PID" 2>/dev/null || fail "server died"
hwm_kb=$(status_kb VmHWM)
rss_end_kb=$(status_kb VmRSS)

t_stop=$(date +%s.%N)
stop_server
stop_secs=$(awk -v a="$t_stop" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

ts=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
out="bench/results/$ts.json"
jq -n \
	--arg ts "$ts" \
	--arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	--arg dirty "$(git status --porcelain 2>/dev/null | head -c1)" \
	--arg duration "$DURATION" \
	--arg protocol "$PROTOCOL" \
	--argjson rate "$RATE" \
	--argjson sps "$spans_per_second" \
	--argjson rejected "$spans_rejected" \
	--argjson stored "$spans_stored" \
	--argjson load_secs "$load_secs" \
	--argjson clients "$CLIENTS" \
	--argjson cpu "$cpu_cores" \
	--argjson hwm_kb "$hwm_kb" \
	--argjson hwm_load_kb "$hwm_load_kb" \
	--argjson rss_end_kb "$rss_end_kb" \
	--argjson disk "$disk_bytes" \
	--argjson bps "$bytes_per_span" \
	--argjson flush_secs "$flush_secs" \
	--argjson stop_secs "$stop_secs" \
	--slurpfile lg "$D/loadgen.json" \
	--slurpfile rb "$D/readback.json" \
	'{
	  timestamp: $ts, commit: $commit, dirty: ($dirty != ""),
	  config: {protocol: $protocol, rate: $rate, duration: $duration, clients: $clients, traces_per_request: $lg[0].traces_per_request, spans_per_trace: $lg[0].spans_per_trace},
	  summary: {
	    protocol: $protocol,
	    spans_per_second: $sps,
	    spans_rejected: $rejected,
	    spans_stored_by_server: $stored,
	    requests_failed: $lg[0].requests_failed,
	    cpu_cores: $cpu,
	    peak_rss_mib: (($hwm_kb / 1024) * 10 | round / 10),
	    bytes_per_span_on_disk: $bps,
	    trace_by_id_p50_ms: $rb[0].p50_ms,
	    trace_by_id_p99_ms: $rb[0].p99_ms,
	    trace_by_id_failed: $rb[0].failed
	  },
	  server: {peak_rss_kib: $hwm_kb, peak_rss_during_load_kib: $hwm_load_kb, rss_at_end_kib: $rss_end_kb,
	           cpu_cores_during_load: $cpu, load_window_seconds: $load_secs, flush_seconds: $flush_secs, shutdown_seconds: $stop_secs},
	  disk: {block_bytes: $disk, bytes_per_span: $bps},
	  loadgen: $lg[0],
	  readback: $rb[0]
	}' >"$out"

# Summary table: value, target, verdict.
jq -r '
  def v(ok): if ok then "ok" else "MISSED" end;
  .summary as $s |
  [
    ["metric", "value", "target", ""],
    ["protocol", $s.protocol, "", ""],
    ["spans/s (accepted)", ($s.spans_per_second | floor | tostring), ">= 100000", v($s.spans_per_second >= 100000)],
    [(if $s.protocol == "jaeger-udp-compact" then "lost spans/failed dgrams" else "rejected spans/failed req" end), "\($s.spans_rejected)/\($s.requests_failed)", "0/0", v($s.spans_rejected == 0 and $s.requests_failed == 0)],
    ["server CPU cores", ($s.cpu_cores | tostring), "(Tempo 1.4)", ""],
    ["peak RSS MiB", ($s.peak_rss_mib | tostring), "<= 1024", v($s.peak_rss_mib <= 1024)],
    ["bytes/span on disk", ($s.bytes_per_span_on_disk | tostring), "<= 80", v($s.bytes_per_span_on_disk <= 80)],
    ["trace-by-ID p50 ms", ($s.trace_by_id_p50_ms | tostring), "(Tempo 38)", ""],
    ["trace-by-ID p99 ms", ($s.trace_by_id_p99_ms | tostring), "<= 20", v($s.trace_by_id_p99_ms <= 20 and $s.trace_by_id_failed == 0)]
  ] | .[] | @tsv' "$out" | awk -F'\t' '{ printf "%-26s %12s  %-12s %s\n", $1, $2, $3, $4 }'
echo "results: $out"

[[ $rb_rc == 0 ]] || fail "readback failed: some traces were not found whole"
