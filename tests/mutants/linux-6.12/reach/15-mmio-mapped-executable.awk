# Reached when a host stage-2 leaf maps an address outside every
# `region ram` record without XN (bit 54: 0x10 in the second attrs field
# of pkvm-check dump's decoding). 6.12 maps MMIO RW and XN (LINUX-6.12.md
# 3.4). Input: pkvm-check dump; exit 0 reached.
function hex(s,   i, n, c) {
	sub(/^0x/, "", s); n = 0
	for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); n = n * 16 + c - 1 }
	return n
}
$4 == "region" && $5 == "what=ram" {
	b = hex(substr($6, 6)); s = hex(substr($7, 6))
	rb[++nr] = b; re[nr] = b + s
}
$4 == "pte_write" && / \[valid (block|page) oa=/ && /attrs=0x13f,/ {
	match($0, /oa=0x[0-9a-f]+/); oa = hex(substr($0, RSTART + 3, RLENGTH - 3))
	match($0, /attrs=0x[0-9a-f]+,0x[0-9a-f]+/); split(substr($0, RSTART + 6, RLENGTH - 6), a, ",")
	if (int(hex(a[2]) / 16) % 2 == 0) { noxn[++nc] = oa; where[nc] = $1 " " $2 }
}
END {
	# The dump lists CPU by CPU: cpu0's region records may come after.
	for (k = 1; k <= nc; k++) {
		ram = 0
		for (i = 1; i <= nr; i++) if (noxn[k] >= rb[i] && noxn[k] < re[i]) ram = 1
		if (!ram) {
			print "reached: " where[k] " maps MMIO at " sprintf("0x%x", noxn[k]) " executable"
			exit 0
		}
	}
	exit 1
}
