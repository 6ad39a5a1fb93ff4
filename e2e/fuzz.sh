#!/usr/bin/env bash
# Run every Go fuzz target of the repository for a while each.
#
#   bash e2e/fuzz.sh [BUDGET]   BUDGET per target: a time (3s in CI via make
#                               test, 1m for make fuzz) or a count (20000x)
#   bash e2e/fuzz.sh --list     print the targets and exit
#
# Targets are found by looking for `func FuzzXxx(` in *_test.go files, so a
# new target is picked up without touching this script. A failing target
# stops the run with go test's report (the crasher is saved under the
# package's testdata/fuzz/ for `go test` to replay).
#
# A time budget is spent in rounds of counted runs (-fuzztime Nx, N doubling
# from 5000), never as go test's own -fuzztime 3s. With a time, Go's fuzzing
# coordinator can report a bare "context deadline exceeded" failure when the
# deadline fires while a worker is mid-input on a busy machine (a race in
# internal/fuzz, golang/go#75804); it wrote no crasher and failed CI twice.
# A counted run has no deadline to race, so every failure here is a finding.
# The corpus that a round found stays in go's cache for the next round.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-10s}

targets=$(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . |
	grep -v '/\.' | sed -E 's|^\./||; s|/[^/]*:func (Fuzz[A-Za-z0-9_]*)\($| \1|' | sort -u)

if [ "$BUDGET" = --list ]; then
	printf '%s\n' "$targets"
	exit 0
fi
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 0
fi

# seconds converts a go-style duration of whole units (90s, 2m, 1h) to seconds.
seconds() {
	case "$1" in
	*[0-9]s) echo "${1%s}" ;;
	*[0-9]m) echo $((${1%m} * 60)) ;;
	*[0-9]h) echo $((${1%h} * 3600)) ;;
	*)
		echo "fuzz: budget $1 is neither a time (3s, 1m, 1h) nor a count (20000x)" >&2
		exit 2
		;;
	esac
}

fuzzone() { # dir name count
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$3" "./$1"
}

case "$BUDGET" in
*[0-9]x) limit= ;;
*) limit=$(seconds "$BUDGET") ;;
esac

n=0
while read -r dir name; do
	n=$((n + 1))
	echo "fuzz: ./$dir $name ($BUDGET)"
	if [ -z "$limit" ]; then
		fuzzone "$dir" "$name" "$BUDGET"
		continue
	fi
	start=$SECONDS count=5000
	while :; do
		fuzzone "$dir" "$name" "${count}x"
		[ $((SECONDS - start)) -lt "$limit" ] || break
		count=$((count * 2))
	done
done <<<"$targets"
echo "fuzz: $n targets ran for $BUDGET each, no failures"
