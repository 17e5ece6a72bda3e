# Reached when a CPU clears a descriptor (a plain store of 0: 6.12 does so
# only when the hyp stage-1 unmaps) without holding pkvm_pgd_lock, the
# first lock the trace takes (__pkvm_init's). Input: pkvm-check dump, whose
# plain store reads "pte_write pa=P value=V [decoded]".
$4 == "lock_acquire" { id = substr($5, 6); if (pgd == "") pgd = id; held[$1, id] = 1 }
$4 == "lock_release" { id = substr($5, 6); delete held[$1, id] }
$4 == "pte_write" && $5 ~ /^pa=/ && $6 == "value=0" && !(($1, pgd) in held) {
	print "reached: " $1 " " $2 " clears " $5 " without " pgd
	found = 1
	exit 0
}
END { exit found ? 0 : 1 }
