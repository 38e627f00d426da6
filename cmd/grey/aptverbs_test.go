package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// aptDownload runs real `apt-get download` of pkg against the fixture's
// bookworm suite in a private apt configuration, in dir.
func aptDownload(t *testing.T, fx, dir, pkg string) {
	t.Helper()
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	apt := testfixture.NewAptEnv(t, testfixture.AptOptions{Sources: []string{fmt.Sprintf(
		"deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm main", fx, fx)}})
	for _, args := range [][]string{{"update"}, {"download", pkg}} {
		cmd := apt.Command(context.Background(), aptGet, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", args, err, out)
		}
	}
}

// TestFullAptVerbs checks download, install --download-only, clean,
// autoclean, depends and rdepends on the bookworm fixture (issue 18):
// grey download gives apt-get download's file byte for byte.
func TestFullAptVerbs(t *testing.T) {
	testfixture.WholeIndex(t)
	fx := testfixture.Bookworm(t)
	root := t.TempDir()
	g := fixtureGrey(t, root)

	// download, into the working directory, as apt-get download.
	greyDir, aptDir := t.TempDir(), t.TempDir()
	t.Chdir(greyDir)
	code, out, errOut := g("download", "hello", "busybox")
	if code != 0 || !strings.Contains(out, "Downloaded hello_2.10-3_amd64.deb") {
		t.Fatalf("download: %d %q %q", code, out, errOut)
	}
	aptDownload(t, fx, aptDir, "hello")
	aptDownload(t, fx, aptDir, "busybox")
	for _, f := range []string{"hello_2.10-3_amd64.deb", "busybox_1%3a1.35.0-4+deb12u1+b1_amd64.deb"} {
		a, err := os.ReadFile(filepath.Join(aptDir, f))
		if err != nil {
			t.Fatalf("apt-get download made no %s: %v", f, err)
		}
		b, err := os.ReadFile(filepath.Join(greyDir, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("grey download %s differs from apt-get download's (%v)", f, err)
		}
	}
	if code, _, errOut := g("download", "no-such-package"); code != 100 || !strings.Contains(errOut, "Unable to locate package no-such-package") {
		t.Errorf("download of an unknown package: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/status")); err == nil {
		t.Errorf("download changed the root")
	}

	// install --download-only fills the cache and installs nothing.
	if code, out, errOut := g("-y", "install", "--download-only", "--no-install-recommends", "hello"); code != 0 || !strings.Contains(out, "download only mode") {
		t.Fatalf("install --download-only: %d %q %q", code, out, errOut)
	}
	cache := filepath.Join(root, "var/cache/grey/archives")
	if _, err := os.Stat(filepath.Join(cache, "hello_2.10-3_amd64.deb")); err != nil {
		t.Errorf("install --download-only: no hello in the cache: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/hello")); err == nil {
		t.Errorf("install --download-only installed hello")
	}
	if code, out, _ := g("installed"); code != 0 || strings.Contains(out, "hello") {
		t.Errorf("installed after --download-only: %d %q", code, out)
	}

	// autoclean deletes what no source offers; clean deletes the rest.
	must(t, os.WriteFile(filepath.Join(cache, "hello_2.9-1_amd64.deb"), []byte("old"), 0o644))
	if code, out, _ := g("autoclean"); code != 0 || out != "Del hello_2.9-1_amd64.deb\n" {
		t.Errorf("autoclean: %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(cache, "hello_2.10-3_amd64.deb")); err != nil {
		t.Errorf("autoclean deleted an offered package: %v", err)
	}
	if code, out, _ := g("clean"); code != 0 || !strings.Contains(out, "Del hello_2.10-3_amd64.deb\n") {
		t.Errorf("clean: %d %q", code, out)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("clean left %d files", len(ents))
	}

	// depends and rdepends, in apt-cache's form.
	if code, out, errOut := g("depends", "hello"); code != 0 || !strings.HasPrefix(out, "hello\n  Depends: libc6\n") || !strings.Contains(out, "  Breaks: <hello-debhelper>\n") {
		t.Errorf("depends hello: %d %q %q", code, out, errOut)
	}
	if code, out, _ := g("depends", "exim4"); code != 0 || !strings.Contains(out, " |Depends: debconf\n  Depends: <debconf-2.0>\n    cdebconf\n    debconf\n") {
		t.Errorf("depends exim4: %d %q", code, out)
	}
	if code, out, _ := g("rdepends", "libpcre2-posix3"); code != 0 || !strings.HasPrefix(out, "libpcre2-posix3\nReverse Depends:\n") || !strings.Contains(out, "  libpcre2-dev\n") {
		t.Errorf("rdepends: %d %q", code, out)
	}
	if code, _, errOut := g("rdepends", "no-such-package"); code != 100 || !strings.Contains(errOut, "Unable to locate package") {
		t.Errorf("rdepends of an unknown package: %d %q", code, errOut)
	}
}
