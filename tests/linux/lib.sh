# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# What the Linux suite's scripts share (sourced, not run): set `src` (the
# project's source tree), `record` (pkvm-record, if the script records)
# and `me` (the name fail() prints) first. Then:
#   build  the kernel cache, $PKVM_LINUX_BUILD or SRC/build (one kernel
#          build serves every build dir)
#   tmp    a scratch directory, removed when the script exits
#   fail MESSAGE      print "ME: MESSAGE" and exit 1
#   linux_paths       the cached kernel's paths as linux_* variables
#                     (linux_image, linux_initramfs, linux_srcdir, ...:
#                     tools/linux paths), or fail: none cached
#   record612 CPUS SEED IMAGE [ARGS...]  pkvm-record a linux-6.12 run of
#                     IMAGE with the cached initramfs; ARGS are the rest
#                     (-o TRACE, --timeout, --mode, --quiet, -- QEMU ARGS)
build=${PKVM_LINUX_BUILD:-$src/build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "$me: $*" >&2
	exit 1
}

linux_paths() {
	local paths
	# (`eval "$(tools/linux paths ...)" || fail` never failed: eval of
	# nothing succeeds, and the script stopped later on an unset linux_*)
	paths=$("$src/tools/linux" paths --build "$build") ||
		fail "no cached kernel in $build: run tools/linux build"
	eval "$(sed 's/^/linux_/' <<<"$paths")"
}

record612() {
	local cpus=$1 seed=$2 image=$3
	shift 3
	"$record" --system linux-6.12 --cpus "$cpus" --seed "$seed" \
		--image "$image" --initramfs "$linux_initramfs" "$@"
}
