//go:build !faultinject

package mirror

import "time"

// faults is the fault-injection hook; in a normal build it is empty. Tests
// build grey with the faultinject tag to kill a sync at a chosen step
// boundary (see fault_inject.go).
type faults struct{}

func newFaults() faults { return faults{} }

// at marks a step boundary.
func (faults) at(string) {}

// faultClock is a test's fixed clock in a faultinject build; never here.
func faultClock() (func() time.Time, bool) { return nil, false }
