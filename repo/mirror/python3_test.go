package mirror

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestFullPartialMirrorInstallsPython3: apt (through mmdebstrap, with the
// partial mirror as its only source and the mirror's own key) installs
// python3 into an empty root, and python3 runs there. The mirror holds
// the closure of python3 and of the Essential: yes packages a Debian root
// is made of (the host's, which is bookworm), in apt's preferred
// alternatives, and nothing else.
func TestFullPartialMirrorInstallsPython3(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	testfixture.Root(t)
	mm := testfixture.Tool(t, "mmdebstrap", "mmdebstrap")
	dpkgQuery := testfixture.Tool(t, "dpkg-query", "dpkg")
	uri := testfixture.DebianMirror(t, "bookworm")
	kr := "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(kr); err != nil {
		testfixture.Missing(t, kr)
	}
	out, err := exec.Command(dpkgQuery, "-W", "-f", "${Package} ${Essential}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	want := []string{"python3"}
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutSuffix(line, " yes"); ok {
			want = append(want, name)
		}
	}
	if len(want) < 15 {
		t.Fatalf("the host lists %d essential packages: %v", len(want)-1, want)
	}
	_, kp := testKey(t, "mirror", t.TempDir())
	m := newMirror(t, []string{fmt.Sprintf("deb [signed-by=%s] %s bookworm main", kr, uri)}, func(c *Config) {
		c.Packages, c.WithDeps, c.Closure, c.Key, c.AllowMissing = want, true, Preferred, kp.Secret, false
	})
	sum, err := Sync(context.Background(), m, SyncOptions{Now: time.Now, Fetcher: testFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", sum)
	pkgs := mirrorPackages(t, m.Dir)
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name)
	}
	for _, n := range []string{"python3", "python3.11", "libpython3.11-stdlib", "dpkg", "libc6"} {
		if !slices.Contains(names, n) {
			t.Errorf("the partial mirror lacks %s", n)
		}
	}
	// Not the whole archive: a closure.
	if len(pkgs) > 200 {
		t.Errorf("the partial mirror holds %d packages", len(pkgs))
	}
	target := filepath.Join(t.TempDir(), "root")
	cmd := exec.Command(mm, "--variant=essential", "--include=python3", "--mode=root",
		"bookworm", target, fmt.Sprintf("deb [signed-by=%s] copy://%s bookworm main", kp.Keyring, m.Dir))
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap from the partial mirror: %v\n%s", err, tail(out, 4000))
	}
	got, err := exec.Command("chroot", target, "python3", "-c", "import sys, json; print(sys.version_info[:2], json.dumps('ok'))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != `(3, 11) "ok"` {
		t.Fatalf("python3 in the new root: %v %q", err, got)
	}
	status, err := os.ReadFile(filepath.Join(target, "var/lib/dpkg/status"))
	if err != nil || !strings.Contains(string(status), "Package: python3\nStatus: install ok installed\n") {
		t.Errorf("dpkg's status in the new root does not show python3 installed (%v)", err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
