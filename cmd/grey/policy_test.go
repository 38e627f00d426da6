package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/sources"
)

// installedStanza is the dpkg status stanza of name at version ver as dpkg
// writes it when it installs the index's package: the Packages stanza
// without the archive's fields, with a Status.
func installedStanza(t *testing.T, root, name, ver string) string {
	t.Helper()
	code, out, errOut := grey(t, "", "--root", root, "show", name+"="+ver)
	if code != 0 {
		t.Fatalf("show %s=%s: %s", name, ver, errOut)
	}
	stanza, _, _ := strings.Cut(out, "\n\n")
	var b strings.Builder
	skip := false
	for _, line := range strings.Split(stanza, "\n") {
		if line != "" && line[0] != ' ' {
			field, _, _ := strings.Cut(line, ":")
			switch field {
			case "Filename", "Size", "MD5sum", "SHA256", "Description-md5", "Tag":
				skip = true
				continue
			}
			skip = false
		} else if skip {
			continue
		}
		b.WriteString(line + "\n")
		if strings.HasPrefix(line, "Package: ") {
			b.WriteString("Status: install ok installed\n")
		}
	}
	return b.String() + "\n"
}

// statusStanza is a dpkg status stanza of an installed package that no
// index has (other control data than the index's version, if any).
func statusStanza(name, arch, ver string) string {
	return "Package: " + name + "\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: x <x@example.org>\nArchitecture: " + arch + "\nVersion: " + ver + "\nDescription: test\n\n"
}

// TestPolicyMatchesAptCache compares `grey policy` with `apt-cache policy`
// line by line, on the fixture's sources, under preferences files that
// exercise every kind of pin apt_preferences(5) has, with and without an
// installed version. apt's answers are the oracle.
func TestPolicyMatchesAptCache(t *testing.T) {
	aptCache := testfixture.Tool(t, "apt-cache", "apt")
	suites := fixtureSuites
	if showRace {
		suites = suites[1:]
	}
	root, _ := updatedRoot(t)
	fixture := testfixture.Bookworm(t)
	// Under -race the fixture's bookworm main is left out (showRace):
	// tzdata is in both other suites.
	pkgs := []string{"tzdata"}
	if !showRace {
		pkgs = append(pkgs, "distro-info-data", "liblzma5", "libpcre2-8-0", "hello")
	}
	tz := func(ver string) string { return installedStanza(t, root, "tzdata", ver) }
	tests := []struct {
		name, prefs, status string
	}{
		{"no pins", "", ""},
		{"security below bookworm", "Package: *\nPin: release n=bookworm-security\nPin-Priority: 400\n", ""},
		{"security never", "Explanation: keep security out\nPackage: *\nPin: release l=Debian-Security\nPin-Priority: never\n", ""},
		{"downgrade pin", "Package: tzdata\nPin: version 2025b*\nPin-Priority: 1001\n", tz("2026f-0+deb12u1")},
		{"installed older", "", tz("2025b-0+deb12u1")},
		{"installed with other control data", "", statusStanza("tzdata", "all", "2025b-0+deb12u1")},
		{"installed not in any index", "", statusStanza("tzdata", "all", "2099a-1")},
		{"pin below installed", "Package: *\nPin: release a=oldstable-security\nPin-Priority: 50\n", tz("2026f-0+deb12u1")},
		{"regex and glob names", "Package: /^tz/ distro-info*\nPin: release a=oldstable-updates\nPin-Priority: 600\n\n# a comment\nPackage: lib*\nPin: release a=oldstable\nPin-Priority: 700\n", ""},
		{"origin pin", "Package: *\nPin: origin \"\"\nPin-Priority: 200\n", ""},
		{"negative pin", "Package: tzdata\nPin: release n=bookworm-security\nPin-Priority: -1\n", ""},
		{"first pin wins", "Package: tzdata\nPin: release n=bookworm-updates\nPin-Priority: 800\n\nPackage: tzdata\nPin: release n=bookworm-updates\nPin-Priority: 100\n", ""},
		{"component and version", "Package: *\nPin: release v=12,c=main,o=Debian\nPin-Priority: 300\n", ""},
		{"status pin", "Package: *\nPin: release a=now\nPin-Priority: 990\n", tz("2025b-0+deb12u1")},
	}
	// One apt configuration for every case: apt rebuilds its cache only
	// when the status file changes.
	apt := testfixture.NewAptEnv(t, testfixture.AptOptions{Suites: suites})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apt.Set(t, tt.prefs, tt.status)
			for _, f := range []struct{ path, data string }{
				{"etc/apt/preferences", tt.prefs},
				{"var/lib/dpkg/status", tt.status},
			} {
				p := filepath.Join(root, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := apt.Command(context.Background(), aptCache, append([]string{"policy"}, pkgs...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("apt-cache policy: %v\n%s", err, out)
			}
			want := strings.ReplaceAll(string(out), apt.Status, "/var/lib/dpkg/status")
			want = strings.ReplaceAll(want, apt.Fixture, "$FIXTURE")
			code, got, errOut := grey(t, "", append([]string{"--root", root, "policy"}, pkgs...)...)
			if code != 0 {
				t.Fatalf("grey policy: exit %d: %s", code, errOut)
			}
			got = strings.ReplaceAll(got, fixture, "$FIXTURE")
			if got != want {
				t.Errorf("grey policy differs from apt-cache policy:\n--- grey\n%s--- apt\n%s", got, want)
			}
		})
	}
}

// TestNoSourceIDsInMessages checks that a request that selects nothing
// names the releases versions come from as the user names them, never
// grey's identifier of a source (issue 15 point 8).
func TestNoSourceIDsInMessages(t *testing.T) {
	root, lines := updatedRoot(t)
	code, _, errOut := grey(t, "", "--root", root, "--dry-run", "install", "tzdata/nosuch")
	if code != 100 || !strings.Contains(errOut, "2026f-0+deb12u1 (all, bookworm-security/main)") || !strings.Contains(errOut, "bookworm-updates/main") {
		t.Fatalf("install tzdata/nosuch: exit %d, %q", code, errOut)
	}
	for _, l := range lines {
		src, err := sources.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(errOut, src.ID()) {
			t.Errorf("message names source id %s: %q", src.ID(), errOut)
		}
	}
	if showRace {
		return // tzdata needs debconf, from bookworm main
	}
	code, out, errOut := grey(t, "", "--root", root, "--dry-run", "--json", "install", "tzdata/bookworm-updates")
	if code != 0 || !strings.Contains(out, `"new_version": "2025b-0+deb12u1"`) {
		t.Fatalf("install tzdata/bookworm-updates: exit %d, %q %q", code, out, errOut)
	}
}

// TestPolicyPackageFiles: without a package, policy lists dpkg's status
// file first, then each Packages file with its priority and release, as
// apt-cache policy does.
func TestPolicyPackageFiles(t *testing.T) {
	root, _ := updatedRoot(t)
	code, out, errOut := grey(t, "", "--root", root, "policy")
	if code != 0 || !strings.HasPrefix(out, "Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n 500 file:") ||
		!strings.Contains(out, "     release v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64\n") ||
		!strings.HasSuffix(out, "Pinned packages:\n") {
		t.Fatalf("policy: exit %d\n%s%s", code, out, errOut)
	}
}
