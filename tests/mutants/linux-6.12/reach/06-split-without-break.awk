# Reached when a table descriptor (bits 1:0 = 11) is stored over a valid
# block (bits 1:0 = 01) with no break (the LOCKED value 0x400) in between.
function low2(v,  d) { d = substr(v, length(v), 1); return index("0123456789abcdef", d) - 1 }
$4 == "pte_write" {
	i = ($5 == "release") ? 6 : 5
	pa = substr($i, 4); v = substr($(i + 1), 7)
	if ((pa in last) && last[pa] != "0x400" && low2(last[pa]) % 4 == 1 && low2(v) % 4 == 3) {
		print "reached: " $1 " " $2 " table " v " over block " last[pa] " at " pa
		found = 1
		exit 0
	}
	last[pa] = v
}
END { exit found ? 0 : 1 }
