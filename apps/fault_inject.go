//go:build faultinject

package apps

import (
	"os"
	"syscall"
)

// killAt kills the process with SIGKILL at the step boundary that
// GREY_TEST_APP_KILL_AT names (a build with the faultinject tag, tests
// only), as a crash there would.
func killAt(step string) {
	if os.Getenv("GREY_TEST_APP_KILL_AT") == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
