#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Linux suite: record-linux.sh CASE SRC PKVM_RECORD VERIFY_TRACE PKVM_CHECK
#
#   build      tools/linux build (the cache of $PKVM_LINUX_BUILD, default the
#              project's build/: one kernel build serves every build dir)
#   hvhe-4cpu  -cpu max (hVHE), 4 CPUs, WAIT mode: every kind on every CPU,
#              no loss, a complete trace, every CPU's producer counters
#              known and exact (tail 0), BOOT first on CPU 0, SYSTEM_OFF
#              last, every lock's tickets 0, 1, 2, ... each released by the
#              CPU that took it
#   nvhe-2cpu  -cpu cortex-a72 (nVHE), 2 CPUs, the same checks
#   drop       DROP mode with the same workload (2 CPUs): bursts may drop
#              records; every gap must be explained by the LOST record after
#              it, the counters known, the recorder's lost= the trace's
#              lost_total= and the hyp's drops, and the lock checks run
#              only when nothing was lost
#   known-panic  the known case of linux/README.md (JUMP_LABEL off: the hyp
#              panics in kvm_arm_init; its own kernel build the first time):
#              pkvm-record exits 1 and the trace ends in the PANIC record
set -euo pipefail
case_=$1 src=$2 record=$3 verify=$4 check=$5
build=${PKVM_LINUX_BUILD:-$src/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "record-linux $case_: $*" >&2
	exit 1
}

if [ "$case_" = build ]; then
	"$src/tools/linux" build --build "$build"
	exit 0
fi
eval "$("$src/tools/linux" paths --build "$build" | sed 's/^/linux_/')" ||
	fail "no cached kernel: run tools/linux build"

# run NAME CPUS MODE [QEMU ARGS...]: record, then the checks every run must
# pass. WAIT mode must lose nothing; DROP mode may, accounted for.
run() {
	local name=$1 cpus=$2 mode=$3 t loss=--no-loss lost
	shift 3
	[ "$mode" = wait ] || loss=''
	t=$tmp/$name.zst
	"$record" --system linux-6.12 --cpus "$cpus" --seed 7 --mode "$mode" \
		--image "$linux_image" --initramfs "$linux_initramfs" \
		--timeout 900 -o "$t" -- "$@" >"$tmp/$name.record" 2>&1 ||
		fail "pkvm-record exited $? ($(tail -1 "$tmp/$name.record"); console: $(tail -3 "$t.console"))"
	grep -q '^driver: ok' "$t.console" || fail "driver did not finish: $(grep driver: "$t.console" | tail -3)"
	# The ring protocol (tracer/README.md "Every record accounted for"):
	# the series publishes `written` with every `head`, so the recorder's
	# cross-check never finds a contradiction and no counter is unknown.
	! grep -E 'unknown|contradict' "$tmp/$name.record" >&2 ||
		fail "pkvm-record could not trust the producer counters (above)"
	"$verify" --cpus "$cpus" $loss --complete --counters --outcome clean \
		--min-records 10000 \
		--kinds trap_entry,hcall_exit,pte_write,tlbi,barrier,lock_acquire,lock_release,nondet,sysreg_write \
		--any-kinds boot,mark,trap_exit "$t" >"$tmp/$name.verify" ||
		{ cat "$tmp/$name.verify" >&2; fail "verify-trace"; }
	# Every CPU's counters exact: produced known, and in WAIT mode nothing
	# after the last record (tail 0) and nothing dropped. In DROP mode the
	# recorder's lost= is the trace's lost_total= and the hyp's drops.
	awk -v mode="$mode" '
		/^cpu[0-9]+ records=/ {
			cpus++; delete f
			for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			if (f["produced"] == "" || f["produced"] == "unknown")
				bad = bad "\n" $1 ": producer counters unknown"
			if (mode == "wait" && (f["tail"] != 0 || f["dropped"] != 0))
				bad = bad "\n" $1 ": tail=" f["tail"] " dropped=" f["dropped"] " in WAIT mode"
		}
		/^lost_total=/ { split($1, a, "="); split($2, b, "="); lost = a[2]; dropped = b[2] }
		END {
			if (!cpus) bad = bad "\nno per-CPU lines"
			if (lost != dropped) bad = bad "\nlost_total=" lost " but the hyps dropped " dropped
			if (bad != "") { print substr(bad, 2) > "/dev/stderr"; exit 1 }
		}' "$tmp/$name.verify" || fail "producer counters (above)"
	rlost=$(sed -n 's/.* lost=\([0-9]*\) .*/\1/p' "$tmp/$name.record" | tail -1)
	[ "$rlost" = "$(sed -n 's/^lost_total=\([0-9]*\).*/\1/p' "$tmp/$name.verify")" ] ||
		fail "pkvm-record says lost=$rlost, verify-trace $(grep lost_total= "$tmp/$name.verify")"
	lost=$(awk '/^cpu/ { for (i = 2; i <= NF; i++) if ($i ~ /^lost=/) { sub("lost=", "", $i); n += $i } } END { print n + 0 }' "$tmp/$name.verify")
	if [ "$lost" != 0 ]; then
		echo "record-linux $case_: $name: $(tail -1 "$tmp/$name.verify"); $lost records lost, each gap explained by a LOST record (lock checks left out)"
		return 0
	fi
	"$check" dump "$t" >"$tmp/$name.dump" || fail "pkvm-check dump"
	# The dump lists each CPU's events in order; CPUs interleave.
	awk '
		{ cpu = $1; n[cpu]++; last[cpu] = $0 }
		n[cpu] == 1 && cpu == "cpu0" && !($2 == "#0" && $4 == "boot") {
			bad = bad "\ncpu0 does not start with BOOT #0: " $0
		}
		$4 == "boot" && !(cpu == "cpu0" && n[cpu] == 1) { bad = bad "\nBOOT not first on cpu0: " $0 }
		$4 == "lock_acquire" || $4 == "lock_release" {
			split($5, l, "="); split($6, k, "="); id = l[2]; t = k[2] + 0
			if ($4 == "lock_acquire") {
				if ((id, cpu) in pending) bad = bad "\n" cpu " takes " id " twice"
				if ((id, t) in seen) bad = bad "\nlock " id " ticket " t " taken twice"
				seen[id, t] = 1; taken[id]++
				if (t + 1 > top[id]) top[id] = t + 1
				pending[id, cpu] = t
			} else {
				if (!((id, cpu) in pending) || pending[id, cpu] != t)
					bad = bad "\n" cpu " releases " id " ticket " t " it does not hold"
				delete pending[id, cpu]
			}
		}
		$4 == "mark" && $5 == "what=system_off" { off = cpu }
		END {
			for (id in taken) if (top[id] != taken[id]) bad = bad "\nlock " id ": tickets are not 0.." taken[id] - 1
			if (off == "") bad = bad "\nno MARK system_off"
			else if (last[off] !~ / mark what=system_off/) bad = bad "\n" off ": MARK system_off is not its last event"
			for (id in taken) locks++
			if (bad != "") { print substr(bad, 2) > "/dev/stderr"; exit 1 }
			print locks " locks, tickets in order"
		}' "$tmp/$name.dump" >"$tmp/$name.locks" || fail "trace checks (above)"
	"$check" "$t" >"$tmp/$name.check" 2>&1 || true
	echo "record-linux $case_: $name: $(tail -1 "$tmp/$name.verify"); $(cat "$tmp/$name.locks")"
	# No Linux profile in the checker yet (issue 13): say what it says.
	echo "record-linux $case_: pkvm-check: $(tr '\n' ' ' <"$tmp/$name.check")"
}

# The hyp panics during __pkvm_init's setup: exit 1, a complete trace
# whose init CPU ends with PANIC (code 2, an exception at EL2).
known_panic() {
	local t=$tmp/panic.zst rc=0 image
	"$src/tools/linux" build --build "$build" --extra "$src/linux/6.12/known-panic.fragment"
	image=$("$src/tools/linux" paths --build "$build" --extra "$src/linux/6.12/known-panic.fragment" | sed -n 's/^image=//p')
	"$record" --system linux-6.12 --cpus 2 --seed 7 --image "$image" \
		--initramfs "$linux_initramfs" --timeout 300 --quiet -o "$t" || rc=$?
	[ $rc = 1 ] || fail "pkvm-record exited $rc, expected 1 (hyp panic)"
	grep -q 'HYP panic' "$t.console" || fail "no HYP panic on the console"
	"$verify" --no-loss --complete --any-kinds boot,panic "$t" >"$tmp/panic.verify" ||
		{ cat "$tmp/panic.verify" >&2; fail "verify-trace"; }
	"$check" dump "$t" | grep ' panic ' | grep -q 'code=2' ||
		fail "no PANIC record with code 2"
	echo "record-linux $case_: $("$check" dump "$t" | grep ' panic ')"
	echo "record-linux $case_: console: $(grep -m1 'HYP panic' "$t.console")"
}

case $case_ in
hvhe-4cpu) run hvhe 4 wait ;;
known-panic) known_panic ;;
nvhe-2cpu) run nvhe 2 wait -cpu cortex-a72 ;;
drop) run drop 2 drop ;;
*) fail "unknown case" ;;
esac
