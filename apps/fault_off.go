//go:build !faultinject

package apps

// faults is the fault-injection hook; it does nothing outside builds
// with the faultinject tag (see fault_inject.go).
type faults struct{}

func (*faults) at(string) {}
