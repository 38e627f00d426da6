//go:build faultinject

package apps

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// faults is the fault-injection hook of a build with the faultinject tag
// (tests only). Each step boundary is numbered per step name from 1;
// "STEP#N" lines go to the file GREY_TEST_APP_FAULT_LOG names, and the
// process kills itself with SIGKILL, as a crash there would, at the
// boundary GREY_TEST_APP_KILL_AT names: "STEP" (its first time) or
// "STEP#N" (its Nth time, for steps repeated per generation or per
// store object).
type faults struct {
	mu   sync.Mutex
	hits map[string]int
}

func (f *faults) at(step string) {
	f.mu.Lock()
	if f.hits == nil {
		f.hits = map[string]int{}
	}
	f.hits[step]++
	n := f.hits[step]
	f.mu.Unlock()
	at := step + "#" + strconv.Itoa(n)
	if log := os.Getenv("GREY_TEST_APP_FAULT_LOG"); log != "" {
		if lf, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			fmt.Fprintln(lf, at)
			_ = lf.Close()
		}
	}
	if k := os.Getenv("GREY_TEST_APP_KILL_AT"); k == at || (k == step && n == 1) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
