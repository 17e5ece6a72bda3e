# Reached when the store that follows a break (0x400) of the same entry is
# a plain store: stage2_make_pte stores with release in 6.12.
$4 == "pte_write" {
	rel = ($5 == "release"); i = rel ? 6 : 5
	pa = substr($i, 4); v = substr($(i + 1), 7)
	if (last[pa] == "0x400" && v != "0x400" && !rel) {
		print "reached: " $1 " " $2 " plain store " v " after the break of " pa
		found = 1
		exit 0
	}
	last[pa] = v
}
END { exit found ? 0 : 1 }
