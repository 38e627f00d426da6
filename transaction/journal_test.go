package transaction

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzUndoStaging: whatever the staging log says, recovery removes
// nothing outside the root (nor the root itself).
func FuzzUndoStaging(f *testing.F) {
	f.Add([]byte("# install hello_2.10-3_amd64.deb\nd /usr/share/doc/hello\nf /usr/bin/.grey-new-0123456789abcdef\n"))
	f.Add([]byte("# x\nf /../outside\nd /..\nd /\nf ../../outside\nd ../\n"))
	f.Add([]byte("d \nf \n# \n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		top := t.TempDir()
		root := filepath.Join(top, "root")
		outside := filepath.Join(top, "outside")
		must(t, os.MkdirAll(filepath.Join(root, filepath.FromSlash(journalDir)), 0o755))
		must(t, os.WriteFile(outside, []byte("keep"), 0o644))
		must(t, os.MkdirAll(filepath.Join(top, "emptydir"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(journalDir), stagingLogName), log, 0o644))
		if _, err := undoStaging(root); err != nil {
			t.Logf("undoStaging: %v", err)
		}
		for _, p := range []string{outside, filepath.Join(top, "emptydir"), root} {
			if _, err := os.Lstat(p); err != nil {
				t.Fatalf("%s was removed by the log %q", p, log)
			}
		}
	})
}
