package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// greyAt runs the CLI in-process with the clock at now.
func greyAt(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, func() time.Time { return now })
	return code, out.String(), errb.String()
}

func fixtureSourceArgs(dir string) []string {
	kr := filepath.Join(dir, "debian-archive-keyring.gpg")
	return []string{
		"--source", fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm main", kr, dir),
		"--source", fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main", kr, dir),
		"--source", fmt.Sprintf("deb [signed-by=%s] file://%s/debian-security bookworm-security main", kr, dir),
	}
}

func TestUpdateCommand(t *testing.T) {
	dir := testfixture.Bookworm(t)
	root := t.TempDir()
	args := append([]string{"--root", root}, fixtureSourceArgs(dir)...)
	args = append(args, "update")

	code, out, errOut := greyAt(t, testfixture.Clock, args...)
	if code != 0 {
		t.Fatalf("update: %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines:\n%s", out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "Get file://"+dir) {
			t.Fatalf("line %q", l)
		}
	}
	if !strings.Contains(lines[0], "bookworm [1 index(es), 8.4 MiB fetched]") {
		t.Fatalf("first line %q", lines[0])
	}

	code, out, _ = greyAt(t, testfixture.Clock, args...)
	if code != 0 || strings.Count(out, "Hit file://") != 3 {
		t.Fatalf("second update: %d\n%s", code, out)
	}

	code, out, errOut = greyAt(t, testfixture.ExpiredClock, args...)
	if code != 1 {
		t.Fatalf("expired: exit %d\n%s", code, out)
	}
	want := fmt.Sprintf("Refused file://%s/debian-security bookworm-security: file://%s/debian-security/dists/bookworm-security/InRelease: expired: valid until 2026-12-01 00:34:33 UTC, now 2026-12-02 00:00:00 UTC", dir, dir)
	if !strings.Contains(out, want+"\n") || strings.Count(out, "Hit ") != 2 || !strings.Contains(errOut, "1 of 3 sources not updated") {
		t.Fatalf("expired output:\n%s\nstderr: %s", out, errOut)
	}

	code, out, _ = greyAt(t, testfixture.ExpiredClock, append([]string{"--json"}, args...)...)
	var res []updateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res) != 3 {
		t.Fatalf("json: %d %v\n%s", code, err, out)
	}
	if res[2].Status != "Refused" || !strings.HasPrefix(res[2].Reason, "expired") || res[2].Date == nil || res[0].Indexes != 1 {
		t.Fatalf("json results %+v", res)
	}

	// The rollback floor is in the root's database.
	db, err := pkgdb.Open(root, pkgdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if d, ok, err := db.LastAccepted(res[1].ID); err != nil || !ok || !d.Equal(time.Date(2026, 11, 24, 2, 12, 15, 0, time.UTC)) {
		t.Fatalf("db date %v %v %v", d, ok, err)
	}
}

func TestUpdateConfiguredSources(t *testing.T) {
	dir := testfixture.Bookworm(t)
	root := t.TempDir()
	if code, _, errOut := greyAt(t, testfixture.Clock, "--root", root, "update"); code != 2 || !strings.Contains(errOut, "no sources") {
		t.Fatalf("no sources: %d %s", code, errOut)
	}
	conf := filepath.Join(root, "etc/grey/sources.list")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm-updates main\n", dir, dir)
	if err := os.WriteFile(conf, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := greyAt(t, testfixture.Clock, "--root", root, "update")
	if code != 0 || !strings.HasPrefix(out, "Get file://"+dir+"/debian bookworm-updates") {
		t.Fatalf("configured: %d\n%s%s", code, out, errOut)
	}
	// A source that cannot be fetched is an Err line; the others still
	// update and the command exits 1.
	missing := fmt.Sprintf("deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/nowhere bookworm main", dir, dir)
	code, out, _ = greyAt(t, testfixture.Clock, "--root", root, "--source", missing, "--source", strings.TrimSpace(line), "update")
	if code != 1 || !strings.Contains(out, "Err file://"+dir+"/nowhere bookworm: file://"+dir+"/nowhere/dists/bookworm/InRelease: neither InRelease nor Release exists\n") ||
		!strings.Contains(out, "Hit file://"+dir+"/debian bookworm-updates") {
		t.Fatalf("missing source: %d\n%s", code, out)
	}
	if code, _, errOut := greyAt(t, testfixture.Clock, "--root", root, "--source", "deb [", "update"); code != 2 || !strings.Contains(errOut, "--source") {
		t.Fatalf("bad --source: %d %s", code, errOut)
	}
}

// TestUpdateAptSources: a root with apt's sources and no grey sources is
// updated from apt's, each checked with the keyring apt would use: its
// Signed-By file inside the root, or trusted.gpg.d (here an absolute link,
// as Debian ships it, resolved inside the root).
func TestUpdateAptSources(t *testing.T) {
	dir := testfixture.Bookworm(t)
	root := t.TempDir()
	kr, err := os.ReadFile(filepath.Join(dir, "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"usr/share/keyrings/debian-archive-keyring.gpg": string(kr),
		"etc/apt/sources.list.d/debian.sources":         fmt.Sprintf("Types: deb\nURIs: file://%s/debian\nSuites: bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n", dir),
		"etc/apt/sources.list":                          fmt.Sprintf("deb file://%s/debian-security bookworm-security main\n", dir),
	} {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(root, "etc/apt/trusted.gpg.d"), 0o755))
	must(t, os.Symlink("/usr/share/keyrings/debian-archive-keyring.gpg", filepath.Join(root, "etc/apt/trusted.gpg.d/debian-archive.gpg")))
	code, out, errOut := greyAt(t, testfixture.Clock, "--root", root, "update")
	if code != 0 || !strings.Contains(out, "Get file://"+dir+"/debian bookworm-updates") || !strings.Contains(out, "Get file://"+dir+"/debian-security bookworm-security") {
		t.Fatalf("update from apt's sources: %d\n%s%s", code, out, errOut)
	}
	// Without a keyring apt would trust, the source is refused.
	must(t, os.Remove(filepath.Join(root, "etc/apt/trusted.gpg.d/debian-archive.gpg")))
	code, out, _ = greyAt(t, testfixture.Clock, "--root", root, "update")
	if code != 1 || !strings.Contains(out, "Refused file://"+dir+"/debian-security bookworm-security") {
		t.Fatalf("no trusted keyring: %d\n%s", code, out)
	}
}

// TestFullHostAptSources: on a real Debian root made by mmdebstrap, with no
// grey configuration at all, "grey update" reads apt's sources (the
// mirror's sources.list line, checked with trusted.gpg.d's keys) and
// "grey install hello" installs it from there, as on a Debian host.
func TestFullHostAptSources(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	if _, err := os.Stat(filepath.Join(root, "etc/grey")); err == nil {
		t.Fatal("the root has grey configuration")
	}
	now := time.Now()
	code, out, errOut := greyAt(t, now, "--root", root, "update")
	if code != 0 || !strings.HasPrefix(out, "Get ") || !strings.Contains(out, " bookworm [") {
		t.Fatalf("update from apt's sources: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = greyAt(t, now, "--root", root, "-y", "install", "hello")
	if code != 0 {
		t.Fatalf("install hello: %d\n%s%s", code, out, errOut)
	}
	if b, err := exec.Command("chroot", root, "/usr/bin/hello").CombinedOutput(); err != nil || string(b) != "Hello, world!\n" {
		t.Errorf("chroot hello: %q %v", b, err)
	}
	if b, err := exec.Command("dpkg", "--root="+root, "-s", "hello").CombinedOutput(); err != nil || !strings.Contains(string(b), "Status: install ok installed") {
		t.Errorf("dpkg -s hello: %v\n%s", err, b)
	}
}
