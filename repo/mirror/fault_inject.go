//go:build faultinject

package mirror

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// faults is the fault-injection hook of a build with the faultinject tag
// (tests only): it numbers every step boundary of a sync from 1, appends
// "N step" lines to the file GREY_TEST_FAULT_LOG names, and kills the
// process with SIGKILL at boundary GREY_TEST_KILL_AT.
type faults struct {
	n      *int
	killAt int
	log    string
}

func newFaults() faults {
	k, _ := strconv.Atoi(os.Getenv("GREY_TEST_KILL_AT"))
	return faults{n: new(int), killAt: k, log: os.Getenv("GREY_TEST_FAULT_LOG")}
}

// at marks a step boundary.
func (f faults) at(step string) {
	*f.n++
	if f.log != "" {
		if lf, err := os.OpenFile(f.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintf(lf, "%d %s\n", *f.n, step)
			_ = lf.Close()
		}
	}
	if *f.n == f.killAt {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// faultClock is the clock a test gives a grey process through
// GREY_TEST_NOW (RFC 3339), for metadata whose signatures are valid only
// at a fixed time.
func faultClock() (func() time.Time, bool) {
	t, err := time.Parse(time.RFC3339, os.Getenv("GREY_TEST_NOW"))
	if err != nil {
		return nil, false
	}
	return func() time.Time { return t }, true
}
