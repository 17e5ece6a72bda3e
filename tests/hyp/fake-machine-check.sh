#!/bin/bash
# Run pkvm-fake-machine (4 CPUs, two seeds) and check each trace with
# pkvm-check: the hyp core must conform (exit 0) with records from every CPU.
# usage: fake-machine-check.sh FAKE_MACHINE PKVM_CHECK
set -u
fm=$1 check=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for seed in 1 7; do
	"$fm" --cpus 4 --ops 800 --seed $seed "$dir/t.trace" 2>/dev/null || {
		echo "fake-machine failed (seed $seed)"; exit 1; }
	out=$("$check" "$dir/t.trace" 2>&1)
	rc=$?
	echo "$out" | tail -3
	[ $rc -eq 0 ] || { echo "seed $seed: pkvm-check exit $rc"; exit 1; }
	for cpu in 0 1 2 3; do
		n=$("$check" dump "$dir/t.trace" --cpu $cpu 2>/dev/null | grep -cE "(trap|hcall)_exit")
		[ "$n" -gt 100 ] || { echo "seed $seed: cpu $cpu has $n traps"; exit 1; }
	done
done
echo ok
