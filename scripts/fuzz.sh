#!/usr/bin/env bash
# Runs every fuzz target of drydock (each `func FuzzXxx` in a _test.go file)
# for N minutes, one target after the other, and reports the ones that
# crashed. It is not part of CI: scripts/test.sh runs each target's seed
# corpus (the f.Add seeds and testdata/fuzz/<FuzzName>/) as ordinary tests.
#
#   scripts/fuzz.sh [minutes] [regexp]    # default 10 minutes per target;
#                                         # regexp picks targets by package or name
#   scripts/fuzz.sh 1                     # one minute each
#   scripts/fuzz.sh 5 'registry|tokens'   # five minutes each, some of them
#
# FUZZ_PARALLEL sets the fuzzing workers per target (default: go's, one per
# CPU); on a shared machine, FUZZ_PARALLEL=1. FUZZ_MINIMIZE bounds each
# minimization of an input (default 10s; go's 60s can spend a short run
# minimizing one input that widened coverage).
#
# A crash leaves its input in <package>/testdata/fuzz/<FuzzName>/<hash>:
# fix the bug and commit that file with the fix, as a regression seed (go
# test runs it from then on). Inputs that only widened coverage stay in
# go's cache ($(go env GOCACHE)/fuzz), not in the tree.
set -uo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-10}
filter=${2:-.}
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes < 1)); then
	echo "usage: scripts/fuzz.sh [minutes] [regexp]" >&2
	exit 2
fi

# "<package dir> <FuzzName>" for every target.
mapfile -t targets < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' internal cmd |
	sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#\1 \2#' | sort -u | grep -E -- "$filter")
if ((${#targets[@]} == 0)); then
	echo "scripts/fuzz.sh: no fuzz target matches '$filter'" >&2
	exit 2
fi

echo "== fuzzing ${#targets[@]} targets for ${minutes}m each (about $((${#targets[@]} * minutes))m plus builds)"
logs=$(mktemp -d "${TMPDIR:-/tmp}/drydock-fuzz.XXXXXX")
crashed=()
summary=()
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	log="$logs/${dir//\//_}.$name.log"
	echo "-- $dir $name"
	start=$SECONDS
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${minutes}m" -fuzzminimizetime "${FUZZ_MINIMIZE:-10s}" \
		-timeout "$((minutes + 30))m" ${FUZZ_PARALLEL:+-parallel "$FUZZ_PARALLEL"} "./$dir" >"$log" 2>&1
	rc=$?
	execs=$(grep -Eo 'execs: [0-9]+' "$log" | tail -1 | awk '{print $2}')
	line=$(printf '%-40s %-28s %4ds  %12s execs' "$dir" "$name" $((SECONDS - start)) "${execs:-0}")
	if ((rc == 0)); then
		summary+=("ok     $line")
	else
		summary+=("CRASH  $line")
		crashed+=("$dir $name")
		# What failed, and where go wrote the input that makes it fail.
		grep -E -- '--- FAIL|Failing input|go test -run=|panic:|_test\.go:[0-9]+:' "$log" | head -20 |
			sed -e "s#written to testdata/#written to $dir/testdata/#" -e 's/^/   /'
		echo "   full log: $log"
	fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if ((${#crashed[@]} > 0)); then
	echo "== ${#crashed[@]} of ${#targets[@]} targets crashed; logs in $logs"
	exit 1
fi
rm -rf "$logs"
echo "== no crash in ${#targets[@]} targets"
