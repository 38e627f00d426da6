//go:build !faultinject

package transaction

// faults is the fault-injection hook; in a normal build it is empty and
// every call to at compiles to nothing. Tests build grey with the
// faultinject tag to kill it at a chosen step (see fault_inject.go).
type faults struct{}

func newFaults() faults { return faults{} }

// at marks a step boundary.
func (*faults) at(string) {}
