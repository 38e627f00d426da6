package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestFullListMatchesApt compares grey list --installed and --upgradable
// with real apt list on one installed state of the fixture's packages
// (current, upgradable from bookworm-security and -updates, and one no
// index has). apt names a suite by its Release's Suite (oldstable), grey
// by the codename the source line gives (bookworm); the test maps apt's
// names to the codenames, and compares the rest to the byte (issue 18).
func TestFullListMatchesApt(t *testing.T) {
	t.Parallel()
	aptPath := testfixture.Tool(t, "apt", "apt")
	if showRace {
		t.Skip("needs bookworm main, left out under -race")
	}
	root, _ := updatedRootOf(t, false)
	var status strings.Builder
	for _, p := range [][2]string{{"zlib1g", "1:1.2.13.dfsg-1"}, {"liblzma5", "5.4.1-1+deb12u1"}, {"tzdata", "2025b-0+deb12u1"}} {
		status.WriteString(installedStanza(t, root, p[0], p[1]))
	}
	status.WriteString(statusStanza("greylocal", "all", "1.0"))
	must(t, os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status.String()), 0o644))
	apt := testfixture.NewAptEnv(t, testfixture.AptOptions{Suites: fixtureSuites, Status: status.String()})
	names := strings.NewReplacer("oldstable-security", "bookworm-security", "oldstable-updates", "bookworm-updates", "oldstable", "bookworm")
	for _, which := range []string{"--installed", "--upgradable"} {
		out, err := apt.Command(context.Background(), aptPath, "list", which).Output()
		if err != nil {
			t.Fatalf("apt list %s: %v\n%s", which, err, out)
		}
		want := strings.TrimPrefix(names.Replace(string(out)), "Listing...\n")
		code, got, errOut := grey(t, "", "--root", root, "list", which)
		if code != 0 {
			t.Fatalf("grey list %s: exit %d: %s", which, code, errOut)
		}
		t.Logf("grey list %s:\n%s", which, got)
		if got != want {
			t.Errorf("grey list %s differs from apt list:\n--- grey\n%s--- apt\n%s", which, got, want)
		}
		if strings.Count(got, "\n") < 2 {
			t.Errorf("grey list %s lists too little to compare:\n%s", which, got)
		}
	}
}
