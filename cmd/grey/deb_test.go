package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

func fixtureHello(t *testing.T) string {
	t.Helper()
	return filepath.Join(testfixture.Bookworm(t), "debian/pool/main/h/hello/hello_2.10-3_amd64.deb")
}

// dpkgDebOutput runs dpkg-deb in this process's environment (same zone).
func dpkgDebOutput(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testfixture.Tool(t, "dpkg-deb", "dpkg"), args...).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v", args, err)
	}
	return string(out)
}

func TestDebInfo(t *testing.T) {
	deb := fixtureHello(t)
	code, out, stderr := grey(t, "", "deb", "info", deb)
	if code != 0 {
		t.Fatalf("deb info: exit %d, %s", code, stderr)
	}
	if want := dpkgDebOutput(t, "--field", deb); out != want {
		t.Errorf("deb info = %q, dpkg-deb --field = %q", out, want)
	}
	code, out, _ = grey(t, "", "--json", "deb", "info", deb)
	var fields map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &fields) != nil {
		t.Fatalf("deb info --json: exit %d, %q", code, out)
	}
	if fields["Package"] != "hello" || fields["Version"] != "2.10-3" || !strings.HasPrefix(fields["Description"], "example package based on GNU hello\n ") {
		t.Errorf("JSON fields %v", fields)
	}
	if !strings.HasPrefix(out, `{"Package":"hello","Version":"2.10-3",`) {
		t.Errorf("JSON keys not in control order: %.60s", out)
	}
}

func TestDebContents(t *testing.T) {
	deb := fixtureHello(t)
	code, out, stderr := grey(t, "", "deb", "contents", deb)
	if code != 0 {
		t.Fatalf("deb contents: exit %d, %s", code, stderr)
	}
	if want := dpkgDebOutput(t, "--contents", deb); out != want {
		t.Errorf("deb contents differs from dpkg-deb --contents:\n%s\n---\n%s", out, want)
	}
	code, out, _ = grey(t, "", "--json", "deb", "contents", deb)
	var entries []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &entries) != nil {
		t.Fatalf("deb contents --json: exit %d", code)
	}
	found := false
	for _, e := range entries {
		if e["path"] == "./usr/bin/hello" {
			found = e["type"] == "regular" && e["mode"] == "0755" && e["uname"] == "root"
		}
	}
	if !found {
		t.Error("--json lacks ./usr/bin/hello as a 0755 regular file owned by root")
	}
}

func TestDebBadFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.deb")
	os.WriteFile(bad, []byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n3.0\n"), 0o644)
	for _, cmd := range []string{"info", "contents"} {
		code, _, stderr := grey(t, "", "deb", cmd, bad)
		if code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, "member debian-binary") {
			t.Errorf("deb %s on a bad file: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	code, _, stderr := grey(t, "", "deb", "info", filepath.Join(t.TempDir(), "missing.deb"))
	if code != 2 {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestDebCompareVersions(t *testing.T) {
	tests := []struct {
		v1, op, v2 string
		code       int
	}{
		{"1.0", "lt", "1.1", 0}, {"1.1", "lt", "1.0", 1}, {"1.0~rc1", "<<", "1.0", 0},
		{"1:0.1", "gt", "2.0", 0}, {"2.0", ">>", "1:0.1", 1}, {"1.0-1", "eq", "1.0-1", 0},
		{"1.0-1", "=", "1.0-01", 0}, {"1.0", "ne", "1.0-0", 1}, {"1.0", "ne", "1.0.0", 0},
		{"1.0", "le", "1.0", 0}, {"1.0", "<=", "0.9", 1}, {"1.0", "ge", "1.0", 0}, {"1.0", ">=", "1.1", 1},
		{"1.0", "<", "1.0", 0}, {"1.1", ">", "1.0", 0},
		{"", "lt", "1.0", 0}, {"", "lt-nl", "1.0", 1}, {"", "gt-nl", "1.0", 0}, {"1.0", "le-nl", "", 0},
		{"", "eq", "", 0}, {"", "ge-nl", "", 0},
		{"a1.0", "lt", "1.0", 2}, {"1.0", "lt", "1.0 2", 2}, {"1.0", "like", "1.0", 2},
	}
	dpkg, dpkgErr := exec.LookPath("dpkg")
	for _, tc := range tests {
		code, _, stderr := grey(t, "", "deb", "compare-versions", tc.v1, tc.op, tc.v2)
		if code != tc.code {
			t.Errorf("compare-versions %q %s %q: exit %d, want %d (%s)", tc.v1, tc.op, tc.v2, code, tc.code, stderr)
		}
		if tc.code == 2 {
			if !strings.Contains(stderr, "grey:") {
				t.Errorf("compare-versions %q %s %q: no message", tc.v1, tc.op, tc.v2)
			}
			continue
		}
		// dpkg is the oracle for every valid case.
		if dpkgErr == nil {
			err := exec.Command(dpkg, "--compare-versions", tc.v1, tc.op, tc.v2).Run()
			dcode := 0
			if ee, ok := err.(*exec.ExitError); ok {
				dcode = ee.ExitCode()
			}
			if dcode != code {
				t.Errorf("compare-versions %q %s %q: grey exits %d, dpkg %d", tc.v1, tc.op, tc.v2, code, dcode)
			}
		}
	}
}
