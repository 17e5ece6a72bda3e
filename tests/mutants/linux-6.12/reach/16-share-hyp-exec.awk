# Reached when a hyp stage-1 leaf is stored SHARED_BORROWED without XN
# (bit 54: 0x10 in the second attrs field of pkvm-check dump's decoding).
# The host stage-2's SHARED_BORROWED leaves (the hyp's own shared pages,
# set at boot) are RWX with S2AP|MemAttr (first attrs field 0x13f): not
# counted. 6.1: the hyp side of a share is PAGE_HYP, RW and XN.
function hex(s,   i, n, c) {
	sub(/^0x/, "", s); n = 0
	for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); n = n * 16 + c - 1 }
	return n
}
$4 == "pte_write" && /state=shared-borrowed\]/ && !/attrs=0x13f,/ {
	match($0, /attrs=0x[0-9a-f]+,0x[0-9a-f]+/); split(substr($0, RSTART + 6, RLENGTH - 6), a, ",")
	if (int(hex(a[2]) / 16) % 2 == 0) {
		print "reached: " $1 " " $2 " maps a borrowed page in the hyp stage-1 executable (attrs=" a[1] "," a[2] ")"
		found = 1
		exit 0
	}
}
END { exit found ? 0 : 1 }
