package transaction

import (
	"os"
	"testing"
)

// TestMain removes the shared shell root template after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shellTemplate.dir != "" {
		_ = os.RemoveAll(shellTemplate.dir)
	}
	os.Exit(code)
}
