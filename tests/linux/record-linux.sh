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
#              CPU that took it; format 4.1's records (check_v41 below):
#              regions agreeing with BOOT, one sane boot_linux, every lock
#              named before it is first taken, trap_regs after every host
#              HVC entry, free_page and vcpu_load/put marks, and dump and
#              stats naming them
#   nvhe-2cpu  -cpu cortex-a72 (nVHE), 2 CPUs, the same checks
#   drop       DROP mode with the same workload (2 CPUs): bursts may drop
#              records; every gap must be explained by the LOST record after
#              it, the counters known, the recorder's lost= the trace's
#              lost_total= and the hyp's drops, and the lock checks run
#              only when nothing was lost
#   no-false-alarms  20 seeds x 1, 2, 4 CPUs, each judged by pkvm-check's
#              linux-6.12 profile: no finding, exit 0 (judged whole)
#   known-panic  the known case of linux/README.md (JUMP_LABEL off: the hyp
#              panics in kvm_arm_init; its own kernel build the first time):
#              pkvm-record exits 1 and the trace ends in the PANIC record
set -euo pipefail
case_=$1 src=$2 record=$3 verify=$4 check=$5
me="record-linux $case_"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ "$case_" = build ]; then
	"$src/tools/linux" build --build "$build"
	exit 0
fi
linux_paths

# run NAME CPUS MODE [QEMU ARGS...]: record, then the checks every run must
# pass. WAIT mode must lose nothing; DROP mode may, accounted for.
run() {
	local name=$1 cpus=$2 mode=$3 t loss=--no-loss lost
	shift 3
	[ "$mode" = wait ] || loss=''
	t=$tmp/$name.zst
	record612 "$cpus" 7 "$linux_image" --mode "$mode" \
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
		--any-kinds boot,mark,trap_exit,region,boot_linux,lock_info,trap_regs "$t" >"$tmp/$name.verify" ||
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
	"$check" dump --ticks "$t" >"$tmp/$name.dump" || fail "pkvm-check dump"
	# The dump lists each CPU's events in order; CPUs interleave.
	awk '
		{ cpu = $1; n[cpu]++; last[cpu] = $0 }
		n[cpu] == 1 && cpu == "cpu0" && !($2 == "seq=0" && $4 == "boot") {
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
	check_v41 "$t" "$tmp/$name.dump" >"$tmp/$name.v41" || fail "format 4.1 records (above)"
	echo "record-linux $case_: $name: $(tail -1 "$tmp/$name.verify"); $(cat "$tmp/$name.locks")"
	echo "record-linux $case_: $name: $(cat "$tmp/$name.v41")"
	# The linux-6.12 profile: no finding (DROP mode: inconclusive where
	# records were lost), and a lossless run conforms.
	judged "$t" "$name"
}

# judged TRACE NAME: pkvm-check's linux-6.12 profile finds nothing. The
# profile judges every promise of LINUX-6.12.md, so a lossless run conforms
# (exit 0); a run that lost records (DROP mode) is inconclusive (exit 4),
# never more; no run names an unjudged reason.
judged() {
	local rc=0
	"$check" --format=json "$1" >"$tmp/$2.check" 2>&1 || rc=$?
	grep -q '"findings":0,' "$tmp/$2.check" &&
		! grep -q '"unjudged":' "$tmp/$2.check" &&
		{ [ $rc = 0 ] || { [ $rc = 4 ] &&
			! grep -q '"lost":0[,}]' "$tmp/$2.check"; }; } ||
		{
			"$check" "$1" >&2
			# Keep the trace: a finding on a clean run is a checker
			# false alarm or a pKVM bug, and the run may not repeat.
			mkdir -p "$build/linux/failed"
			cp "$1" "$build/linux/failed/$2.zst"
			fail "$2: pkvm-check exit $rc, expected 0 (4 if records were lost) with no finding (above); trace kept in $build/linux/failed/$2.zst"
		}
}

# no-false-alarms: SEEDS (default 20, $PKVM_LINUX_SEEDS) seeds x 1, 2 and
# 4 CPUs of the driver's default workload (hVHE, WAIT mode), each judged
# by the linux-6.12 profile with no finding (exit 0: judged whole). The recording must be clean; nothing else is asked of it
# here (the other cases check the recording itself).
no_false_alarms() {
	local seeds=${PKVM_LINUX_SEEDS:-20} n=0 cpus s t t0=$SECONDS
	for cpus in 1 2 4; do
		for s in $(seq 1 "$seeds"); do
			t=$tmp/nfa-$cpus-$s.zst
			record612 "$cpus" "$s" "$linux_image" \
				--timeout 900 --quiet -o "$t" >"$tmp/nfa.record" 2>&1 ||
				fail "cpus $cpus seed $s: pkvm-record exited $? ($(tail -1 "$tmp/nfa.record"))"
			judged "$t" "nfa-$cpus-$s"
			n=$((n + 1))
			rm -f "$t" "$t.console"
		done
	done
	echo "record-linux $case_: $n runs ($seeds seeds x 1, 2, 4 CPUs), no finding, $((SECONDS - t0)) s"
}

# check_v41 TRACE DUMP: the records format 4.1 added, as the 6.12 series
# writes them (linux/FORMAT-NEEDS.md), in a trace without loss; DUMP is
# `pkvm-check dump --ticks` of it.
check_v41() {
	local t=$1 dump=$2
	python3 - "$dump" <<'PY' || return 1
import re, sys
bad = []
want = {}        # cpu -> the host HVC entry still waiting for its trap_regs
hvc = regs = 0
regions = []
boot = None
boot_linux = []
vtcrs = []       # (ticks, value) of every VTCR_EL2 write
named = {}       # lock -> ticks of its lock_info
first = {}       # lock -> ticks of its first acquisition
frees = loads = puts = 0
loaded = {}
for line in open(sys.argv[1]):
    f = line.split()
    cpu, kind, ts = f[0], f[3], int(f[2][6:])
    kv = dict(x.split("=", 1) for x in f[4:] if "=" in x)
    if cpu in want and kind != "trap_regs":
        bad.append(f"{cpu}: no trap_regs after the HVC entry {want.pop(cpu)}")
    if kind == "trap_regs":
        if cpu not in want:
            bad.append(f"{cpu}: trap_regs after no host HVC: {line.strip()}")
        want.pop(cpu, None)
        regs += 1
    host = not any(x.startswith("source=") for x in f[4:5])
    if host and (kind == "hcall_entry" or
                 (kind == "trap_entry" and int(kv["esr"], 0) >> 26 == 0x16)):
        want[cpu] = f[1]
        hvc += 1
    if kind == "boot":
        boot = {k: int(v, 0) for k, v in kv.items() if k != "boot_flags"}
    elif kind == "region":
        b, e = int(kv["base"], 0), int(kv["base"], 0) + int(kv["size"], 0)
        regions.append((kv["what"], b, e, line.strip()))
    elif kind == "boot_linux":
        boot_linux.append({k: int(v, 0) for k, v in kv.items()})
    elif kind == "sysreg_write" and kv["reg"] == "vtcr_el2":
        vtcrs.append((ts, int(kv["value"], 0)))
    elif kind == "lock_info":
        if kv["lock"] in named:
            bad.append(f"lock {kv['lock']} named twice")
        named[kv["lock"]] = ts
        if not re.fullmatch(r"host_s2|hyp_s1|vm_table|vm:\d+|pool:(host_s2|hyp_s1|guest_s2)|ffa", kv["role"]):
            bad.append(f"lock_info role: {line.strip()}")
    elif kind == "lock_acquire":
        first.setdefault(kv["lock"], ts)
    elif kind == "nondet" and kv["what"] == "free_page":
        frees += 1
        if int(kv["value"], 0) % 4096 or kv["aux"] not in ("host_s2", "hyp_s1", "guest_s2"):
            bad.append(f"free_page: {line.strip()}")
    elif kind == "mark" and kv["what"] == "vcpu_load":
        if loaded.get(cpu):
            bad.append(f"{cpu}: vcpu_load while {loaded[cpu]} is loaded")
        loaded[cpu] = kv["arg"]
        loads += 1
    elif kind == "mark" and kv["what"] == "vcpu_put":
        if not loaded.get(cpu):
            bad.append(f"{cpu}: vcpu_put with nothing loaded")
        loaded[cpu] = None
        puts += 1
# Regions agree with BOOT: the RAM regions span its RAM, the ranges carved
# from the hyp's reserved memory lie in [hyp_start, hyp_end) (the rings
# first, the hyp stage-1 pool exactly BOOT's pool), the rest in RAM.
ram_lo, ram_hi = boot["ram_base"], boot["ram_base"] + boot["ram_size"]
carved_kinds = {"trace_rings", "vmemmap", "vm_table", "hyp_s1_pool", "host_s2_pool", "ffa"}
rams = [(b, e) for w, b, e, _ in regions if w == "ram"]
if not rams or min(b for b, _ in rams) != ram_lo or max(e for _, e in rams) != ram_hi:
    bad.append("the RAM regions do not span BOOT's RAM")
for w, b, e, l in regions:
    if e <= b:
        bad.append(f"empty region: {l}")
    if w in carved_kinds:
        if b < boot["hyp_start"] or e > boot["hyp_end"]:
            bad.append(f"{w} outside BOOT's hyp range: {l}")
    elif b < ram_lo or e > ram_hi:
        bad.append(f"{w} outside RAM: {l}")
    if w == "hyp_s1_pool" and (b, e) != (boot["pool_start"], boot["pool_end"]):
        bad.append(f"hyp_s1_pool is not BOOT's pool: {l}")
    if w == "trace_rings" and b != boot["hyp_start"]:
        bad.append(f"the rings do not start the hyp range: {l}")
carved = sorted((b, e) for w, b, e, _ in regions if w in carved_kinds)
for (b0, e0), (b1, e1) in zip(carved, carved[1:]):
    if b1 < e0:
        bad.append(f"carved regions overlap at {b1:#x}")
need = {"hyp_text", "hyp_rodata", "hyp_bss", "idmap", "hyp_percpu",
        "hyp_stack", "vgic_global_state"} | carved_kinds
for w in sorted(need - {w for w, *_ in regions}):
    bad.append(f"no region {w}")
cpus = boot["abi_cpus"] >> 32
for w in ("hyp_percpu", "hyp_stack"):
    if sum(1 for r in regions if r[0] == w) != cpus:
        bad.append(f"not one {w} per CPU ({cpus})")
if len(boot_linux) != 1:
    bad.append(f"{len(boot_linux)} boot_linux records")
else:
    bl = boot_linux[0]
    lo = lambda v: v & 0xffffffff
    if not 32 <= bl["va_bits"] <= 52:
        bad.append(f"boot_linux va_bits {bl['va_bits']}")
    if not bl["kva_mask"] or bl["kva_mask"] & bl["kva_tag"]:
        bad.append("boot_linux: kva_mask and kva_tag overlap or the mask is 0")
    # hyp VA of RAM's base by kern_hyp_va of its linear-map alias agrees
    # with BOOT's hyp_va_offset only through the mask: check the tag bits.
    if (ram_lo + boot["hyp_va_offset"]) & ~bl["kva_mask"] & ((1 << 64) - 1) != bl["kva_tag"]:
        bad.append("boot_linux kva_tag disagrees with BOOT's hyp_va_offset")
    for k in ("kvm_sizes", "hyp_sizes"):
        if not lo(bl[k]) or not bl[k] >> 32:
            bad.append(f"boot_linux {k} {bl[k]:#x}")
    if not lo(bl["vm_limits"]) or bl["vm_limits"] >> 32 != 0x1000:
        bad.append(f"boot_linux vm_limits {bl['vm_limits']:#x}")
    if not bl["guest_pgd_size"] or bl["guest_pgd_size"] % 4096:
        bad.append(f"boot_linux guest_pgd_size {bl['guest_pgd_size']:#x}")
    # A guest's pgd is kvm_pgtable_stage2_pgd_size of the host stage-2's
    # VTCR (the first written, at __pkvm_prot_finalize): the pages
    # concatenated at its start level (SL0, or SL2 for level -1).
    if vtcrs:
        v = min(vtcrs)[1]
        level = -1 if (v >> 33) & 1 else (2, 1, 0, 3)[(v >> 6) & 3]
        shift = 12 + 9 * (3 - level) + 9
        ia_bits = 64 - (v & 0x3f)
        pgd = (1 << (ia_bits - shift) if ia_bits > shift else 1) << 12
        if bl["guest_pgd_size"] != pgd:
            bad.append(f"boot_linux guest_pgd_size {bl['guest_pgd_size']:#x}, "
                       f"the host VTCR_EL2 {v:#x} gives {pgd:#x}")
    else:
        bad.append("no VTCR_EL2 write")
for lock, ts in first.items():
    if lock not in named:
        bad.append(f"lock {lock} taken, never named")
    elif named[lock] > ts:
        bad.append(f"lock {lock} named after its first acquisition")
if not hvc or regs != hvc:
    bad.append(f"{hvc} host HVC entries, {regs} trap_regs")
if not frees:
    bad.append("no free_page")
if not loads or loads != puts:
    bad.append(f"{loads} vcpu_load, {puts} vcpu_put")
if bad:
    print("\n".join(bad[:20]), file=sys.stderr)
    sys.exit(1)
print(f"{len(regions)} regions agreeing with BOOT, 1 boot_linux, {len(named)} locks named "
      f"({len(first)} taken, each named first), {hvc} host HVC entries each with trap_regs, "
      f"{frees} free_page, {loads} vcpu_load/put")
PY
	# dump and stats name the new records and linux-6.12's values.
	"$check" stats "$t" >"$tmp/v41.stats" || return 1
	for k in region boot_linux lock_info trap_regs __pkvm_init_vm __kvm_vcpu_run; do
		grep -q "^  $k " "$tmp/v41.stats" || { echo "stats names no $k" >&2; return 1; }
	done
	grep -q ' boot_flags=[a-z]' "$dump" || { echo "dump does not name boot_flags" >&2; return 1; }
}

# The hyp panics during __pkvm_init's setup: exit 1, a complete trace
# whose init CPU ends with PANIC (code 2, an exception at EL2).
known_panic() {
	local t=$tmp/panic.zst rc=0 image
	"$src/tools/linux" build --build "$build" --extra "$src/linux/6.12/known-panic.fragment"
	image=$("$src/tools/linux" paths --build "$build" --extra "$src/linux/6.12/known-panic.fragment" | sed -n 's/^image=//p')
	record612 2 7 "$image" --timeout 300 --quiet -o "$t" || rc=$?
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
no-false-alarms) no_false_alarms ;;
*) fail "unknown case" ;;
esac
