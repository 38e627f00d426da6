//go:build !faultinject

package transaction

// faults is the fault-injection hook; in a normal build it only calls
// the tests' hook (Options.atStep), when there is one. Tests build grey
// with the faultinject tag to kill it at a chosen step (see
// fault_inject.go).
type faults struct {
	hook func(step string)
}

func newFaults() faults { return faults{} }

// at marks a step boundary.
func (f *faults) at(step string) {
	if f.hook != nil {
		f.hook(step)
	}
}
