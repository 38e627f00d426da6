package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppTwoSuites is issue 16's first acceptance point with real
// archives: from the host's Debian mirror, app "stable" takes openssl and
// libssl3 from bookworm, app "security" the newer ones from
// bookworm-security. Each runs "openssl version" under bubblewrap and
// prints the version of the library it loaded, which is its own; libc6
// is one inode in both; the host root has no openssl.
func TestAppTwoSuites(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	testfixture.Tool(t, "bwrap", "bubblewrap")
	main := testfixture.DebianMirror(t, "bookworm")
	sec := testfixture.DebianMirror(t, "bookworm-security")
	kr := "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(kr); err != nil {
		testfixture.Missing(t, "the Debian archive keyring ("+kr+")")
	}
	root := t.TempDir()
	src := []string{
		"--source", "deb [signed-by=" + kr + "] " + main + " bookworm main",
		"--source", "deb [signed-by=" + kr + "] " + sec + " bookworm-security main",
	}
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, time.Now(), append(append([]string{"--root", root}, src...), args...)...)
	}
	if code, _, errOut := g("update"); code != 0 {
		t.Fatalf("update: %d %s", code, errOut)
	}
	// bookworm's version by name (app install takes PKG=VERSION; openssl
	// and libssl3 are built from one source, one version).
	code, out, errOut := g("--json", "policy", "libssl3")
	var pol []struct {
		Versions []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &pol); code != 0 || err != nil || len(pol) != 1 {
		t.Fatalf("policy libssl3: %d %v %s", code, err, errOut)
	}
	stable := ""
	for _, v := range pol[0].Versions {
		// The version whose Packages file is bookworm's (wherever the
		// policy output puts it).
		if b, _ := json.Marshal(v); strings.Contains(string(b), " bookworm/main ") {
			stable, _ = v["version"].(string)
		}
	}
	if stable == "" {
		t.Fatalf("no libssl3 in bookworm: %s", out)
	}
	if code, out, errOut := g("app", "install", "--command", "openssl", "stable", "openssl="+stable, "libssl3="+stable); code != 0 {
		t.Fatalf("app install stable: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "install", "--command", "openssl", "security", "openssl", "libssl3"); code != 0 {
		t.Fatalf("app install security: %d %q %s", code, out, errOut)
	}
	apps := filepath.Join(root, "var/lib/grey/apps")
	versions := map[string]string{}
	for _, app := range []string{"stable", "security"} {
		code, out, _ := g("--json", "app", "history", app)
		m := regexp.MustCompile(`"libssl3=([0-9.]+)-`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("history %s: %d %s", app, code, out)
		}
		versions[app] = m[1]
		code, out, errOut := g("app", "run", app, "--", "version")
		if code != 0 || !strings.HasPrefix(out, "OpenSSL "+m[1]+" ") {
			t.Errorf("app run %s -- version: %d %q %s, want OpenSSL %s", app, code, out, errOut, m[1])
		}
	}
	if versions["stable"] == versions["security"] {
		t.Skipf("bookworm and bookworm-security have the same libssl3 (%s) today: nothing to tell apart", versions["stable"])
	}
	if !sameInode(t, filepath.Join(apps, "stable/current/lib/x86_64-linux-gnu/libc.so.6"), filepath.Join(apps, "security/current/lib/x86_64-linux-gnu/libc.so.6")) {
		t.Error("libc.so.6 is not one store object in both apps")
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/openssl")); !os.IsNotExist(err) {
		t.Errorf("the host root has usr/bin/openssl: %v", err)
	}
	t.Logf("libssl3 %s (bookworm) and %s (bookworm-security)", versions["stable"], versions["security"])
}
