#!/usr/bin/env bash
# Ingest benchmark per protocol: runs bench/run.sh once per protocol and
# prints one table (spans/s, rejected, server CPU, peak RSS, spans/s
# relative to otlp-grpc). "rejected/failed": spans rejected in partial
# successes / requests failed (e.g. 429); for UDP, spans lost (sent - stored). See bench/README.md.
#
# Environment (defaults in brackets): DURATION [30s] per protocol,
# PROTOCOLS [all seven], READS [50]; everything else is passed to run.sh.
set -euo pipefail

export DURATION=${DURATION:-30s}
export READS=${READS:-50}
PROTOCOLS=${PROTOCOLS:-otlp-grpc otlp-http zipkin-json zipkin-proto jaeger-thrift-http jaeger-grpc jaeger-udp-compact}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v jq >/dev/null || { echo "protocols.sh: jq not found" >&2; exit 1; }

if [[ -z "${PACE_BIN:-}" ]]; then
	mkdir -p bin
	go build -o bin/pace ./cmd/pace
	export PACE_BIN=bin/pace
fi

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/pace-protocols.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

results=()
for p in $PROTOCOLS; do
	echo "===== $p ($DURATION)"
	rc=0
	PROTOCOL=$p bench/run.sh 2>&1 | tee "$LOGS/$p.log" || rc=$?
	out=$(sed -n 's/^results: //p' "$LOGS/$p.log" | tail -n1)
	if [[ -n "$out" && -f "$out" ]]; then
		results+=("$out")
	else
		echo "protocols.sh: $p failed (exit $rc)" >&2
		jq -n --arg p "$p" '{summary: {protocol: $p, failed: true}}' >"$LOGS/$p.json"
		results+=("$LOGS/$p.json")
	fi
done

echo
echo "== protocols, $DURATION each, ${CLIENTS:-4} clients, ${TRACES_PER_REQUEST:-100} traces x ${SPANS_PER_TRACE:-10} spans per request"
jq -rs '
  (map(select(.summary.protocol == "otlp-grpc" and (.summary.failed | not))) | first | .summary.spans_per_second) as $base |
  (["protocol", "spans/s", "rejected/failed", "CPU cores", "peak RSS MiB", "vs otlp-grpc"] | @tsv),
  (.[] | .summary as $s |
    if $s.failed then [$s.protocol, "FAILED", "", "", "", ""]
    else [$s.protocol,
          ($s.spans_per_second | floor | tostring),
          (if $s.protocol == "jaeger-udp-compact" then "\($s.spans_rejected) lost" else "\($s.spans_rejected)/\($s.requests_failed) req" end),
          ($s.cpu_cores | tostring),
          ($s.peak_rss_mib | tostring),
          (if $base then ($s.spans_per_second / $base * 100 | round / 100 | tostring) else "-" end)]
    end | @tsv)' "${results[@]}" |
	awk -F'\t' '{ printf "%-20s %10s %16s %10s %13s %13s\n", $1, $2, $3, $4, $5, $6 }'
