#!/usr/bin/env bash
# Runs the peer benchmark against the working tree this folder is in (go.mod
# replaces the commitlog module with ../..).
#
#   ./run.sh quick            # smoke run: small sizes, one round (a minute or two)
#   ./run.sh full             # the measurement: 3 interleaved rounds, medians
#   ./run.sh full -w 4,6 -systems commitlog,raft-wal   # more flags: go run . -h
#
# Data goes to a fresh directory under $TMPDIR (default /tmp), removed at the
# end; the tables go to stdout, progress to stderr.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-quick}
shift $(( $# > 0 ? 1 : 0 ))
bin=$(mktemp -d "${TMPDIR:-/tmp}/peers-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/peers" .
"$bin/peers" -mode "$mode" "$@"
