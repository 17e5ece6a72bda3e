# Reached when VMs were torn down (__pkvm_teardown_vm, id 25) but no host
# stage-2 annotation was ever cleared (a release store of 0 after a break:
# what giving a page back to the host does in 6.12). Input: pkvm-check
# dump, which names linux-6.12's hypercalls and writes a release store as
# "pte_write release pa=P value=V [decoded]".
/ x0=(__pkvm_teardown_vm|0xc6000019)( |$)/ { teardowns++ }
$4 == "pte_write" && $5 == "release" && $7 == "value=0" { cleared++ }
END {
	if (teardowns > 0 && cleared == 0) {
		print "reached: " teardowns " teardowns, no annotation cleared"
		exit 0
	}
	exit 1
}
