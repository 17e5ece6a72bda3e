# Reached when the hyp stage-1 clears leaves (plain stores of 0) without
# the tlbi vale2is/vae2is that follows each one in 6.12 (op 0x101 is
# vale2is, format 4.1). Input: pkvm-check dump (a plain store's line is
# "cpuN seq=S t=T pte_write pa=P value=V [decoded]"); exit 0 reached.
$4 == "pte_write" && $5 ~ /^pa=/ && $6 == "value=0" { clears++ }
$4 == "tlbi" && ($5 == "op=vale2is" || $5 == "op=0x101" || $5 == "op=vae2is") { tlbis++ }
END {
	if (clears > 0 && tlbis < clears / 2) {
		print "reached: " clears " hyp stage-1 clears, " tlbis + 0 " tlbi vale2is/vae2is"
		exit 0
	}
	exit 1
}
