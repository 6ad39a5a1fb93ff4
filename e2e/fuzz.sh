#!/usr/bin/env bash
# Run every Go fuzz target of the repository for a while each.
#
#   bash e2e/fuzz.sh [FUZZTIME]      e.g. 3s in CI (make test), 1m for make fuzz
#   bash e2e/fuzz.sh --list          print the targets and exit
#
# Targets are found by looking for `func FuzzXxx(` in *_test.go files, so a
# new target is picked up without touching this script. A failing target
# stops the run with go test's report (the crasher is saved under the
# package's testdata/fuzz/ for `go test` to replay).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${1:-10s}

targets=$(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v '/\.' | sed -E 's|^\./||; s|/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($| \1|' | sort -u)

if [ "$FUZZTIME" = --list ]; then
	printf '%s\n' "$targets"
	exit 0
fi
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 0
fi

n=0
while read -r dir name; do
	n=$((n + 1))
	echo "fuzz: ./$dir $name ($FUZZTIME)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$dir"
done <<<"$targets"
echo "fuzz: $n targets ran for $FUZZTIME each, no failures"
