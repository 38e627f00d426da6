package mirror

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateRefuses: definitions a sync could not use are refused at
// create, naming the problem, and nothing is recorded.
func TestCreateRefuses(t *testing.T) {
	good := "deb [signed-by=/k.gpg] http://example.org/debian bookworm main"
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"no sources", Config{Name: "m"}, "no sources"},
		{"bad name", Config{Name: "../m", Sources: []string{good}}, "invalid mirror name"},
		{"relative keyring", Config{Name: "m", Sources: []string{"deb [signed-by=k.gpg] http://example.org/debian bookworm main"}}, "must be an absolute path"},
		{"two sources, one suite", Config{Name: "m", Sources: []string{good, good}}, "both serve dists/bookworm"},
		{"flat", Config{Name: "m", Sources: []string{"deb [signed-by=/k.gpg] http://example.org/r ./"}}, "flat"},
		{"source package", Config{Name: "m", Sources: []string{"deb-src [signed-by=/k.gpg] http://example.org/debian bookworm main"}}, "only binary"},
		{"deps without packages", Config{Name: "m", Sources: []string{good}, WithDeps: true}, "need --packages"},
		{"filtered without key", Config{Name: "m", Sources: []string{good}, Packages: []string{"hello"}}, "give --key"},
		{"bad closure", Config{Name: "m", Sources: []string{good}, Packages: []string{"hello"}, Key: "/k", Closure: "some"}, "closure"},
		{"arch all", Config{Name: "m", Sources: []string{good}, Architectures: []string{"all"}}, "invalid architecture"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := Create(root, "", tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create: %v, want an error saying %q", err, tc.want)
			}
			if _, err := Open(root, "m"); !errors.Is(err, ErrUnknown) {
				t.Errorf("a refused create recorded the mirror: %v", err)
			}
		})
	}
	root := t.TempDir()
	if _, err := Create(root, "", Config{Name: "m", Sources: []string{good}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(root, filepath.Join(root, "elsewhere"), Config{Name: "m", Sources: []string{good}}); !errors.Is(err, ErrExists) {
		t.Errorf("second create of m: %v, want ErrExists", err)
	}
	m, err := Open(root, "m")
	if err != nil || m.Dir != filepath.Join(root, DefaultDirIn, "m") {
		t.Errorf("open m: %v %+v", err, m)
	}
}
