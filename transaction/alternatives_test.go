package transaction

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAlternativesInDebianRoot installs nano, whose postinst registers the
// editor alternative with update-alternatives, into a real minbase root
// made by mmdebstrap, and compares the alternatives with a root where
// dpkg itself installed nano: the same update-alternatives --query, the
// links in place, and dpkg --verify clean.
func TestAlternativesInDebianRoot(t *testing.T) {
	withNano := testfixture.DebianRoot(t, testfixture.RootSpec{Include: []string{"nano"}})
	debs, _ := filepath.Glob(filepath.Join(testfixture.CacheDir(t), "debs", "nano_*_amd64.deb"))
	if len(debs) == 0 {
		t.Fatal("mmdebstrap left no nano .deb in the test cache")
	}
	nano := debs[len(debs)-1]
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	r := openRoot(t, root)
	var out bytes.Buffer
	if _, err := apply(t, r, Plan{Install: []Install{{Path: nano}}}, Options{ScriptOutput: &out}); err != nil {
		t.Fatalf("install %s: %v\n%s", filepath.Base(nano), err, out.String())
	}
	query := func(root, name string) string {
		t.Helper()
		b, err := exec.Command("update-alternatives", "--root", root, "--query", name).CombinedOutput()
		if err != nil {
			t.Errorf("update-alternatives --root %s --query %s: %v\n%s", root, name, err, b)
		}
		return string(b)
	}
	for _, name := range []string{"editor", "pico"} {
		got, want := query(root, name), query(withNano, name)
		if got != want || !strings.Contains(got, "Value: /bin/nano") {
			t.Errorf("alternative %s:\ngrey:\n%s\ndpkg:\n%s", name, got, want)
		}
	}
	for _, l := range [][2]string{{"usr/bin/editor", "/etc/alternatives/editor"}, {"etc/alternatives/editor", "/bin/nano"}} {
		if got, err := os.Readlink(filepath.Join(root, l[0])); err != nil || got != l[1] {
			t.Errorf("/%s -> %q (%v), want %s", l[0], got, err, l[1])
		}
	}
	if b, err := exec.Command("dpkg", "--root="+root, "--verify", "nano").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("dpkg --verify nano: %v\n%s", err, b)
	}
	// No script environment is left behind in a real root either.
	if _, err := os.Lstat(filepath.Join(root, "usr/sbin/policy-rc.d")); err == nil {
		t.Errorf("policy-rc.d left in the root")
	}
	if fi, err := os.Lstat(filepath.Join(root, "dev/null")); err == nil && fi.Mode().IsRegular() {
		t.Errorf("/dev/null is a regular file")
	}
}
