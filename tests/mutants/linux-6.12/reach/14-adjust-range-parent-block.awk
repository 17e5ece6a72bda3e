# Reached when a block descriptor is stored where a table was linked (the
# break's 0x400 between them does not count): 6.12's host stage-2 fault
# maps a block only over an empty entry, and nothing else in the runs
# replaces a table with a block. Input: pkvm-check dump; exit 0 reached.
$4 == "pte_write" {
	pa = ($5 == "release") ? $6 : $5
	if ($0 ~ /\[invalid\]/ && $0 ~ /value=0x400 /) next
	if ($0 ~ /\[valid block / && was_table[pa]) {
		print "reached: " $1 " " $2 " stores a block over the table at " substr(pa, 4)
		found = 1
		exit 0
	}
	was_table[pa] = ($0 ~ /\[valid table /)
}
END { exit found ? 0 : 1 }
