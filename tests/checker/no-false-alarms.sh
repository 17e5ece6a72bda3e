#!/usr/bin/env bash
# No false alarms: traces the real hypervisor records under QEMU, on many
# seeds with 4 CPUs, all conform (pkvm-check exit 0, no finding).
# usage: no-false-alarms.sh PKVM_RECORD PKVM_CHECK HYP WORKLOAD [SEEDS] [OPS]
#                           [-- PKVM_RECORD_ARGS]
# The suite records scenario 7 (trace_load while the other CPUs run, then
# the stress) with the test image, whose race window reaches the orders
# of issue 15 in every run.
set -uo pipefail
record=$1 check=$2 hyp=$3 workload=$4 seeds=${5:-20} ops=${6:-600}
shift $(( $# < 6 ? $# : 6 ))
[[ ${1:-} == -- ]] && shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/pkvm-nfa.XXXXXX")
trap 'rm -rf "$dir"' EXIT
bad=0
for s in $(seq 1 "$seeds"); do
	t=$dir/seed$s.zst
	if ! "$record" --quiet --cpus 4 --ops "$ops" --seed "$s" --hyp "$hyp" \
		--workload "$workload" --timeout 60 -o "$t" "$@"; then
		echo "seed $s: pkvm-record failed (exit $?)"
		bad=1
		continue
	fi
	out=$("$check" "$t" 2>&1)
	rc=$?
	echo "seed $s: exit $rc: $(echo "$out" | tail -1)"
	if [ $rc -ne 0 ]; then
		echo "$out" | head -40
		bad=1
	fi
done
exit $bad
