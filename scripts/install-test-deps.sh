#!/usr/bin/env bash
# Installs the tools the tests need into $TOOLS (default
# $HOME/.cache/pace-tools), building each only when it is missing.
set -euo pipefail

TOOLS="${TOOLS:-$HOME/.cache/pace-tools}"
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

mkdir -p "$TOOLS/bin"

if [ -x "$TOOLS/bin/minio" ]; then
	echo "install-test-deps: minio present at $TOOLS/bin/minio"
else
	echo "install-test-deps: building minio $MINIO_VERSION into $TOOLS/bin (several minutes on a cold cache)"
	start=$(date +%s)
	GOBIN="$TOOLS/bin" GOFLAGS="${GOFLAGS:-}" go install "$MINIO_MODULE@$MINIO_VERSION"
	echo "install-test-deps: minio installed at $TOOLS/bin/minio in $(($(date +%s) - start))s"
fi
