package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFullHostMultiArchLibc6 is the multi-arch case on a real
// Debian root made by mmdebstrap, with the host's mirror: grey arch add
// i386, update (both architectures' indexes), install libc6:i386 beside
// libc6:amd64; dpkg -l shows both, dpkg --verify, dpkg --audit and apt-get
// check are clean, and apt in the root agrees; removing libc6:i386 leaves
// libc6:amd64 whole.
func TestFullHostMultiArchLibc6(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	if code, _, errOut := h.grey("-y", "install", "libc6:i386"); code == 0 {
		t.Errorf("libc6:i386 installed before i386 was added:\n%s", errOut)
	}
	h.mustGrey("arch", "add", "i386")
	if out, err := h.chroot("dpkg", "--print-foreign-architectures"); err != nil || strings.TrimSpace(out) != "i386" {
		t.Errorf("dpkg --print-foreign-architectures: %v %q", err, out)
	}
	h.mustGrey("update")
	out := h.mustGrey("-y", "install", "libc6:i386")
	t.Logf("install libc6:i386:\n%s", out)
	h.checkSame("install libc6:i386")
	h.checkHealthy("install libc6:i386")
	l, err := h.run(h.dpkg, "--root="+h.dir, "-l", "libc6")
	if err != nil || !strings.Contains(l, "ii  libc6:amd64") || !strings.Contains(l, "ii  libc6:i386") {
		t.Errorf("dpkg -l libc6: %v\n%s", err, l)
	}
	for _, f := range []string{"libc6:i386.list", "libc6:i386.md5sums", "libc6:amd64.list"} {
		if _, err := os.Stat(filepath.Join(h.dir, "var/lib/dpkg/info", f)); err != nil {
			t.Errorf("info file %s: %v", f, err)
		}
	}
	if s, err := h.run(h.dpkg, "--root="+h.dir, "-S", "/usr/share/doc/libc6/copyright"); err != nil ||
		!strings.Contains(s, "libc6:amd64") || !strings.Contains(s, "libc6:i386") {
		t.Errorf("dpkg -S of libc6's shared copyright: %v %s", err, s)
	}
	// apt sees the same: nothing to do, nothing broken.
	if s, err := h.chroot("apt-get", "-s", "install", "libc6:i386"); err != nil || !strings.Contains(s, "libc6:i386 is already the newest version") {
		t.Errorf("apt-get -s install libc6:i386: %v\n%s", err, s)
	}

	// libgcc-s1 is Protected: apt's resolver does not remove it by itself
	// (apt-get remove libc6:i386 fails), but removes libgcc-s1:i386 when
	// named, as only the native instance protects the system; grey too.
	if s, err := h.chroot("apt-get", "-s", "remove", "libc6:i386", "libgcc-s1:i386"); err != nil || !strings.Contains(s, "Remv libgcc-s1:i386") {
		t.Errorf("apt-get -s remove libc6:i386 libgcc-s1:i386: %v\n%s", err, s)
	}
	h.mustGrey("-y", "remove", "libc6:i386", "libgcc-s1:i386")
	h.checkSame("remove libc6:i386")
	h.checkHealthy("remove libc6:i386")
	if s, err := h.run(h.dpkg, "--root="+h.dir, "-S", "/usr/share/doc/libc6/copyright"); err != nil || strings.TrimSpace(s) != "libc6:amd64: /usr/share/doc/libc6/copyright" {
		t.Errorf("dpkg -S after removing libc6:i386: %v %s", err, s)
	}
}
