package mirror

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPoolName: a Filename from an index that poolName accepts stays
// inside the mirror and outside its own files (dists, snapshots, .git,
// .grey-mirror), and Dir accepts it.
func FuzzPoolName(f *testing.F) {
	for _, s := range []string{"pool/main/h/hello/hello_2.10-3_amd64.deb", "../x", "dists/stable/InRelease", ".git/config",
		"pool/../../etc/passwd", "/abs", "pool//x", "pool/./x", ".grey-mirror/state.json", "snapshots/a/pool", "a\\b", ""} {
		f.Add(s)
	}
	root := filepath.FromSlash("/srv/mirror")
	f.Fuzz(func(t *testing.T, name string) {
		if poolName(name) != nil {
			return
		}
		p, err := Dir{Root: root}.Path(name)
		if err != nil {
			t.Fatalf("poolName accepts %q, Dir refuses it: %v", name, err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("%q resolves outside the mirror: %s", name, p)
		}
		first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		if first == "dists" || first == "snapshots" || strings.HasPrefix(first, ".") {
			t.Fatalf("%q reaches the mirror's own files: %s", name, rel)
		}
	})
}
