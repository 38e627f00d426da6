package mirror

import (
	"path/filepath"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

func TestSyncFixture(t *testing.T) {
	fx := testfixture.Bookworm(t)
	m := newMirror(t, fixtureSources(t, "file://"+fx), nil)
	sum := syncOnce(t, m)
	t.Logf("%s", sum)
	_ = filepath.Join
}
