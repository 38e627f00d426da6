//go:build faultinject

package transaction

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// faults is the fault-injection hook of a build with the faultinject tag
// (tests only): it numbers every step boundary of a transaction from 1,
// appends "N step" lines to the file GREY_TEST_FAULT_LOG names, and kills
// the process with SIGKILL at boundary GREY_TEST_KILL_AT.
type faults struct {
	n      int
	killAt int
	log    string
	hook   func(step string) // Options.atStep
}

func newFaults() faults {
	k, _ := strconv.Atoi(os.Getenv("GREY_TEST_KILL_AT"))
	return faults{killAt: k, log: os.Getenv("GREY_TEST_FAULT_LOG")}
}

// at marks a step boundary.
func (f *faults) at(step string) {
	if f.hook != nil {
		f.hook(step)
	}
	f.n++
	if f.log != "" {
		if lf, err := os.OpenFile(f.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(lf, "%d %s\n", f.n, step)
			_ = lf.Close()
		}
	}
	if f.n == f.killAt {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
