#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Bisect across saved traces of real pKVM (linux/README.md "Nightly traces
# and bisecting"): bisect-linux.sh SRC PKVM_RECORD PKVM_CHECK
#
# A scratch kernel history the way a pKVM engineer keeps one: the pristine
# source commit (a shared clone of the tools/linux source tree), then
#   S  the recording series (linux/6.12/series) as one commit
#   G  a harmless change to the hyp (a comment in hyp-main.c)
#   B  a planted bug: tests/mutants/linux-6.12/05-hyp-unmap-no-tlbi.patch
#   L  another harmless change, on top of the bug
# Each commit is built with `tools/linux build --git REPO --rev C` (only the
# objects the commit changes are rebuilt) and recorded once ("nightly");
# each trace's header must name its commit (hyp_commit). Then
# tools/bisect-traces --repo REPO must name B as the first bad commit and G
# as the last good one, an ancestor. Uses the kernel cache of
# $PKVM_LINUX_BUILD (default SRC/build), like the rest of the suite.
set -euo pipefail
src=$1 record=$2 check=$3 me=bisect-linux
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
mutant=$src/tests/mutants/linux-6.12/05-hyp-unmap-no-tlbi.patch

linux_paths
repo=$tmp/kernel
git clone -q --shared --no-checkout "$linux_srcdir" "$repo" || fail "git clone of $linux_srcdir"
g() { git -C "$repo" -c user.name=nightly -c user.email=nightly@pkvm-check "$@"; }
# Fixed dates: the same commits every run, so a second run finds their
# Images in the cache.
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
export GIT_INDEX_FILE=$tmp/index
g read-tree HEAD

# commit MESSAGE: the index as a commit on top of HEAD.
commit() {
	local c
	c=$(g commit-tree "$(g write-tree)" -p HEAD -m "$1") || fail "commit-tree"
	g update-ref HEAD "$c"
	echo "$c"
}
# touch_hyp N: append a comment to hyp-main.c in the index.
touch_hyp() {
	local f=arch/arm64/kvm/hyp/nvhe/hyp-main.c blob
	{ g cat-file blob ":$f"; echo "/* nightly $1 */"; } >"$tmp/blob"
	blob=$(g hash-object -w "$tmp/blob")
	g update-index --cacheinfo "100644,$blob,$f"
}

sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$src/linux/6.12/series" | grep -v '^$' |
	while read -r p; do
		g apply --cached --whitespace=nowarn "$src/linux/6.12/patches/$p" || exit 1
	done || fail "the series does not apply"
S=$(commit "pKVM trace: the recording series")
touch_hyp 1
G=$(commit "hyp: a harmless change")
g apply --cached --whitespace=nowarn "$mutant" || fail "$mutant does not apply"
B=$(commit "hyp: unmap without TLB invalidation")
touch_hyp 2
L=$(commit "hyp: another harmless change")
unset GIT_INDEX_FILE

mkdir -p "$tmp/nightly"
n=0
for c in "$S" "$G" "$B" "$L"; do
	n=$((n + 1))
	t0=$SECONDS
	"$src/tools/linux" build --build "$build" --git "$repo" --rev "$c" >"$tmp/build.log" 2>&1 ||
		{ tail -20 "$tmp/build.log" >&2; fail "tools/linux build --rev $c"; }
	image=$("$src/tools/linux" paths --build "$build" --git "$repo" --rev "$c" | sed -n 's/^image=//p')
	built=$((SECONDS - t0))
	t=$tmp/nightly/night-$n.zst
	record612 2 1 "$image" --timeout 900 -o "$t" >"$tmp/record.log" 2>&1 ||
		{ tail -5 "$tmp/record.log" >&2; fail "pkvm-record of $c exited $?"; }
	named=$(head -c 65536 "$t" | grep -ao 'hyp_commit=[0-9a-z-]*' || true)
	[ "$named" = "hyp_commit=$c" ] ||
		fail "the trace of $c names ${named:-no commit} (hyp_commit)"
	echo "night-$n: ${c:0:12} built in $built s, recorded in $((SECONDS - t0 - built)) s"
done

"$src/tools/bisect-traces" --repo "$repo" --check "$check" "$tmp/nightly" | tee "$tmp/bisect.out"
grep -q "^bisect-traces: first bad commit: $B " "$tmp/bisect.out" ||
	fail "expected first bad commit $B (the planted bug)"
grep -q "^bisect-traces: last good: $G (an ancestor)" "$tmp/bisect.out" ||
	fail "expected last good $G, an ancestor"
echo "bisect-linux: ok"
