# Reached when one host trap reads the same host word twice (NONDET
# host_read with the same address).
$4 == "trap_entry" || $4 == "hcall_entry" { for (k in seen) if (index(k, $1 SUBSEP) == 1) delete seen[k] }
$4 == "nondet" && $5 == "what=host_read" {
	if (($1, $7) in seen) {
		print "reached: " $1 " " $2 " reads " substr($7, 6) " again"
		found = 1
		exit 0
	}
	seen[$1, $7] = 1
}
END { exit found ? 0 : 1 }
