package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const whyPackages = `Package: app
Version: 1.0
Architecture: amd64
Depends: libfoo (>= 1), mta | mail-transport-agent

Package: libfoo
Version: 1.2
Architecture: amd64
Depends: libc

Package: libc
Version: 2.36
Architecture: amd64

Package: exim
Version: 4.96
Architecture: amd64
Provides: mail-transport-agent
`

func TestWhy(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "Packages")
	if err := os.WriteFile(pf, []byte(whyPackages), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"why", "libc", "-i", "app", "--packages", pf}, 0, []string{
			"app     1.0   requested",
			"libfoo  1.2   Depends of app: libfoo (>= 1)",
			"libc    2.36  Depends of libfoo: libc",
		}},
		{[]string{"why", "exim", "-i", "app", "--packages", pf}, 0, []string{
			"exim  4.96  Depends of app: mta | mail-transport-agent",
		}},
		{[]string{"--json", "why", "libfoo", "-i", "app", "--packages", pf}, 0, []string{
			`"package": "libfoo"`, `"by": "app"`, `"relation": "libfoo (\u003e= 1)"`,
		}},
		{[]string{"why", "nothere", "-i", "app", "--packages", pf}, 1, []string{"nothere is not in the resulting set"}},
	}
	for _, tt := range tests {
		code, out, errOut := grey(t, "", append([]string{"--root", root}, tt.args...)...)
		if code != tt.code {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", tt.args, code, tt.code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tt.args, w, out, errOut)
			}
		}
	}
}
