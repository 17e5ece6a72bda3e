# Reached when a CPU clears a page-table entry (a plain store of 0) and
# its next TLBI comes with no DSB between (6.12's hyp_unmap_walker: clear,
# dsb ishst, tlbi vale2is). Input: pkvm-check dump; exit 0 reached.
$4 == "pte_write" && $5 ~ /^pa=/ && $6 == "value=0" { cleared[$1] = 1 }
$4 == "barrier" && $5 == "op=dsb" { cleared[$1] = 0 }
$4 == "tlbi" && cleared[$1] {
	print "reached: " $1 " " $2 " tlbi " substr($5, 4) " right after a clear, no dsb between"
	found = 1
	exit 0
}
END { exit found ? 0 : 1 }
