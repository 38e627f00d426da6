package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAttackStateLinksCLI is issue 12's item 9 as a user meets it: a root
// (from an untrusted image, say) whose grey or dpkg state is a symbolic
// link to a host path. Each command is refused with exit 1 and a message
// naming the link, and the host path is byte for byte as it was: grey's
// database was opened and locked there, dpkg's lock taken on the host
// file, and dpkg's info files adopted from there.
func TestAttackStateLinksCLI(t *testing.T) {
	fx := testfixture.Bookworm(t)
	src := []string{"--source", fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm-updates main", fx, fx)}
	for _, c := range []struct {
		state string // made a link to a host path
		args  []string
	}{
		{"var/lib/grey", append(src, "update")},
		{"var/lib/grey", []string{"installed"}},
		{"var/lib/grey/grey.db", []string{"installed"}},
		{"var/lib/dpkg/lock", []string{"remove", "hello"}},
		{"var/lib/dpkg/info", []string{"installed"}},
		{"var/lib/grey/lists", append(src, "update")},
	} {
		t.Run(c.state+" "+c.args[len(c.args)-1], func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			for p, s := range map[string]string{
				"var/lib/dpkg/status":          "Package: hello\nStatus: install ok installed\nArchitecture: all\nVersion: 1\nMaintainer: m\nDescription: d\n\n",
				"var/lib/dpkg/info/hello.list": "/.\n/usr\n",
				"var/lib/dpkg/lock":            "",
			} {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
				must(t, os.WriteFile(filepath.Join(root, p), []byte(s), 0o644))
			}
			if code, out, errOut := greyAt(t, testfixture.Clock, append([]string{"--root", root}, append(src, "update")...)...); code != 0 {
				t.Fatalf("first update: %d %s%s", code, out, errOut)
			}
			link := filepath.Join(root, c.state)
			outside := filepath.Join(t.TempDir(), "host")
			must(t, os.Rename(link, outside))
			must(t, os.Symlink(outside, link))
			before := testfixture.TreeListing(t, outside)
			code, out, errOut := greyAt(t, testfixture.Clock, append([]string{"--root", root}, c.args...)...)
			if msg := out + errOut; code != 1 || !strings.Contains(msg, link+" ") || !strings.Contains(msg, "leads out of the root") {
				t.Errorf("exit %d, want 1 and a message saying %s leads out of the root:\n%s", code, link, msg)
			}
			if got := testfixture.TreeListing(t, outside); got != before {
				t.Errorf("the host path changed:\n%s", testfixture.DiffListings(before, got))
			}
		})
	}
}
