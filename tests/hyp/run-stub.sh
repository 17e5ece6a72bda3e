#!/bin/bash
# Boot hyp.elf with the stub host on N CPUs; pass if the stub prints PASS,
# every CPU entered the host, and QEMU exits 0 (PSCI SYSTEM_OFF).
# usage: run-stub.sh QEMU HYP_ELF STUB_ELF N
set -u
qemu=$1 hyp=$2 stub=$3 n=$4
out=$(timeout 30 "$qemu" -M virt,virtualization=on,gic-version=3 \
	-cpu cortex-a72 -smp "$n" -m 256M -nodefaults -display none -serial stdio \
	-kernel "$hyp" -device loader,file="$stub" 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 0 ]; then
	echo "run-stub: qemu exit status $rc" >&2
	exit 1
fi
grep -q "hyp: cpus=$n " <<<"$out" || { echo "run-stub: wrong CPU count" >&2; exit 1; }
grep -q "^stub: PASS" <<<"$out" || { echo "run-stub: stub did not pass" >&2; exit 1; }
grep -q "^hyp: system off" <<<"$out" || { echo "run-stub: no system off" >&2; exit 1; }
echo "run-stub: ok"
