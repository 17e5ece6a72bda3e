# Reached when a __pkvm_teardown_vm issues its tlbi vmalls12e1is while
# the CPU's last VTTBR_EL2 write has VMID 0 (bits 63:48: the host's):
# 6.12 loads the VM's VTTBR (VMID slot + 1) for it. Input: pkvm-check
# dump; exit 0 reached.
$4 == "trap_entry" || $4 == "hcall_entry" { td[$1] = ($0 ~ / x0=__pkvm_teardown_vm /) }
$4 == "sysreg_write" && $5 == "reg=vttbr_el2" { v = substr($6, 9); vmid0[$1] = (length(v) <= 12) }
$4 == "tlbi" && $5 == "op=vmalls12e1is" && td[$1] && vmid0[$1] {
	print "reached: " $1 " " $2 " tears a VM down with tlbi vmalls12e1is under VMID 0"
	found = 1
	exit 0
}
END { exit found ? 0 : 1 }
