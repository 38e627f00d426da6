package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAttackExtraFilesStayInRoot: a spec's extra files and accounts are
// written through an os.Root of the image, each symlink a package left on
// the way followed inside the image as in a chroot (an absolute one, or
// one climbing with ".."), so nothing outside the image changes (issue
// 12, item 9).
func TestAttackExtraFilesStayInRoot(t *testing.T) {
	base := t.TempDir()
	root, host := filepath.Join(base, "root"), filepath.Join(base, "host")
	for p, s := range map[string]string{
		filepath.Join(host, "passwd"):                "hostuser:x:1000:1000::/home/hostuser:/bin/sh\n",
		filepath.Join(host, "motd"):                  "host motd\n",
		filepath.Join(root, "etc/passwd-real"):       "root:x:0:0:root:/root:/bin/sh\n",
		filepath.Join(root, host, "placeholder"):     "",
		filepath.Join(root, "usr/share/doc/.keep"):   "",
		filepath.Join(root, "etc/group"):             "root:x:0:\n",
		filepath.Join(root, "etc/existing-dir/.dir"): "",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for l, target := range map[string]string{
		"etc/motd":     filepath.Join(host, "motd"),                     // absolute, to a host file
		"etc/passwd":   "../../../../../../../../.." + host + "/passwd", // climbing out
		"srv":          host,                                            // a directory, absolute
		"etc/realpass": "passwd-real",
	} {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	hostBefore := testfixture.TreeListing(t, host)
	uid := os.Getuid()
	files := []File{
		{Path: "/etc/motd", Mode: 0o644, Content: "image motd\n", UID: uid, GID: os.Getgid()},
		{Path: "/srv/app/config", Mode: 0o640, Content: "config\n", UID: uid, GID: os.Getgid()},
	}
	if err := addFiles(root, files); err != nil {
		t.Fatal(err)
	}
	s := &Spec{Users: []User{{Name: "app", UID: 1001, GID: 1001, Home: "/srv/app", Shell: "/bin/sh"}}}
	if err := addAccounts(root, s); err != nil {
		t.Fatal(err)
	}
	if got := testfixture.TreeListing(t, host); got != hostBefore {
		t.Errorf("outside the image changed:\n%s", testfixture.DiffListings(hostBefore, got))
	}
	in := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return string(b)
	}
	if got := in(filepath.Join(host, "motd")); got != "image motd\n" {
		t.Errorf("the image's copy of the link's target holds %q", got)
	}
	if got := in(filepath.Join(host, "app/config")); got != "config\n" {
		t.Errorf("srv/app/config: %q", got)
	}
	if got := in(filepath.Join(host, "passwd")); !strings.Contains(got, "app:x:1001:1001") || strings.Contains(got, "hostuser") {
		t.Errorf("etc/passwd's target inside the image holds %q", got)
	}
	// A path that is the image's root, or a directory, is refused by name.
	for _, f := range []File{{Path: "/", Mode: 0o644}, {Path: "/etc/existing-dir", Mode: 0o644}} {
		if err := addFiles(root, []File{f}); err == nil || !strings.Contains(err.Error(), "extra file "+f.Path) {
			t.Errorf("extra file %s: %v", f.Path, err)
		}
	}
}
