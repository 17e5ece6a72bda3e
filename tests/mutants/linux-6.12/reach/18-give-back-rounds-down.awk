# Reached when a failed __pkvm_init_vm or __pkvm_init_vcpu (its exit's x1
# negative) annotated more host stage-2 entries for the hyp (value 4: the
# donation) than it cleared back to 0 (the give-back): pages it keeps.
# Input: pkvm-check dump; exit 0 reached.
$4 == "trap_entry" || $4 == "hcall_entry" { in_init[$1] = ($0 ~ / x0=__pkvm_init_v(m|cpu) /); ann[$1] = 0; clr[$1] = 0; name[$1] = $0 ~ /init_vm/ ? "__pkvm_init_vm" : "__pkvm_init_vcpu" }
$4 == "pte_write" && in_init[$1] && $0 ~ /value=4 \[invalid owner=hyp\]/ { ann[$1]++ }
$4 == "pte_write" && in_init[$1] && $5 == "release" && $6 ~ /^pa=/ && $7 == "value=0" { clr[$1]++ }
$4 == "hcall_exit" && in_init[$1] {
	if (($6 ~ /^x1=E[A-Z0-9]+$/ || $6 ~ /^x1=0xffffffff/) && ann[$1] > clr[$1]) {
		print "reached: " $1 " " $2 " a failed " name[$1] " donated " ann[$1] " pages and gave back " clr[$1]
		found = 1
		exit 0
	}
	in_init[$1] = 0
}
END { exit found ? 0 : 1 }
