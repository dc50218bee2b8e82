# pace — build and test entry points. `make test` is what CI runs.

SHELL := /bin/bash
GO ?= go

# Test tools (MinIO) live in a cache this Makefile owns.
TOOLS ?= $(HOME)/.cache/pace-tools
export TOOLS
PACE_MINIO ?= $(TOOLS)/bin/minio

# Fuzz targets, as package:FuzzName pairs, each run for FUZZTIME.
FUZZ_TARGETS ?= ./model:FuzzParseTraceID ./distributor:FuzzOTLPHTTPDecode ./distributor:FuzzJaegerThriftHTTPDecode ./distributor:FuzzJaegerAgentDatagram ./distributor:FuzzJaegerGRPCDecode ./distributor:FuzzZipkinDecode ./wal:FuzzReplay ./block:FuzzDecodeAnyValue ./generator:FuzzCountSpans ./traceql:FuzzParse ./traceql:FuzzMergeMarshaled ./frontend:FuzzSearchParams
FUZZTIME ?= 10s
# Minimizing a new interesting input may otherwise eat the whole FUZZTIME.
FUZZMINIMIZETIME ?= 2s

INTEGRATION_TIMEOUT ?= 20m

.PHONY: test deps vet fmt-check tidy-check unit fuzz integration build

test: deps vet fmt-check tidy-check unit fuzz integration

build:
	$(GO) build -o bin/pace ./cmd/pace

deps:
	./scripts/install-test-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@files="$$(git ls-files --cached --others --exclude-standard -- '*.go' | while read -r f; do [ -f "$$f" ] && echo "$$f"; done | xargs -r gofmt -l)"; \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi; \
	echo "gofmt: ok"

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' (diff above)"; exit 1; }
	@echo "go mod tidy: ok"

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration)

# Every listed target must exist: `go test -fuzz` on a name that matches no
# fuzz test passes silently, so check with -list first.
fuzz:
	@set -euo pipefail; \
	for target in $(FUZZ_TARGETS); do \
		pkg="$${target%%:*}"; name="$${target##*:}"; \
		echo "== fuzz $$name in $$pkg for $(FUZZTIME)"; \
		listed="$$($(GO) test -list "^$$name\$$" "$$pkg")" || { echo "fuzz: cannot list tests of $$pkg"; exit 1; }; \
		if ! grep -qx "$$name" <<<"$$listed"; then \
			echo "fuzz: no fuzz test $$name in $$pkg"; exit 1; \
		fi; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) "$$pkg"; \
	done

integration: deps
	PACE_MINIO="$(PACE_MINIO)" $(GO) test -count=1 -timeout $(INTEGRATION_TIMEOUT) ./integration/...
