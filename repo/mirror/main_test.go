package mirror

import (
	"os"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// weed is the package's one SeaweedFS, started by the first test that
// needs it and stopped by TestMain.
var weed testfixture.SharedS3

// TestMain runs the tests, then stops what they shared: the SeaweedFS
// server and the faultinject build of grey.
func TestMain(m *testing.M) {
	code := m.Run()
	weed.Stop()
	if faultBin.dir != "" {
		os.RemoveAll(faultBin.dir)
	}
	os.Exit(code)
}
