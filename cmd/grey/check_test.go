package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// TestUnmetRelations: what grey check reports of a set of installed
// packages, case by case.
func TestUnmetRelations(t *testing.T) {
	pkg := func(s string) *deb.Package {
		t.Helper()
		st, err := control.ParseOne([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		p, err := deb.FromStanza(st)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const lib = "Package: lib\nVersion: 1.0\nArchitecture: amd64\n"
	for _, tc := range []struct {
		name string
		pkgs []string
		want string
	}{
		{"met", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: lib (>= 1.0)\n"}, ""},
		{"missing", []string{"Package: app\nVersion: 1\nArchitecture: amd64\nDepends: lib (>= 1.0)\n"},
			"app Depends: lib (>= 1.0) but it is not installed"},
		{"too old", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nPre-Depends: lib (>= 2)\n"},
			"app PreDepends: lib (>= 2) but 1.0 is installed"},
		{"alternative met", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: nolib | lib\n"}, ""},
		{"alternatives unmet", []string{"Package: app\nVersion: 1\nArchitecture: amd64\nDepends: a | b\n"}, "app Depends: a | b"},
		{"provided", []string{"Package: mta\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\n",
			"Package: app\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent\n"}, ""},
		{"versioned on an unversioned provide", []string{"Package: mta\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\n",
			"Package: app\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent (>= 2)\n"},
			"app Depends: mail-transport-agent (>= 2) but it is a virtual package"},
		{"versioned provide", []string{"Package: mta\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent (= 3)\n",
			"Package: app\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent (>= 2)\n"}, ""},
		{"conflict", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nConflicts: lib\n"}, "app Conflicts: lib but 1.0 is installed"},
		{"breaks older only", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nBreaks: lib (<< 1.0)\n"}, ""},
		{"breaks", []string{lib, "Package: app\nVersion: 1\nArchitecture: amd64\nBreaks: lib (<< 2)\n"}, "app Breaks: lib (<< 2) but 1.0 is installed"},
		{"conflict with what it provides itself", []string{"Package: mta\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\nConflicts: mail-transport-agent\n"}, ""},
		{"foreign architecture", []string{"Package: lib\nVersion: 1.0\nArchitecture: i386\n", "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: lib\n"},
			"app Depends: lib but 1.0 is installed"},
		{"Multi-Arch: foreign", []string{"Package: lib\nVersion: 1.0\nArchitecture: i386\nMulti-Arch: foreign\n", "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: lib\n"}, ""},
		{"restriction list", []string{"Package: app\nVersion: 1\nArchitecture: amd64\nDepends: lib [i386]\n"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pkgs []*deb.Package
			for _, s := range tc.pkgs {
				pkgs = append(pkgs, pkg(s))
			}
			var got []string
			for _, p := range unmetRelations(pkgs, "amd64") {
				got = append(got, strings.TrimSpace(p.Package+" "+p.Field+": "+p.Relation+" "+p.Why))
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCheckAgainstAptGetCheck: on a real root where dpkg removed a
// package others depend on (--force-depends), grey check reports what
// apt-get check reports, line for line, and exits 1.
func TestCheckAgainstAptGetCheck(t *testing.T) {
	testfixture.Root(t)
	testfixture.Tool(t, "chroot", "coreutils")
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	if code, out, errOut := g("check"); code != 0 || out != "" {
		t.Fatalf("grey check on a sound root: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := g("--json", "check"); code != 0 || out != "[]\n" {
		t.Fatalf("grey --json check on a sound root: %d %q %q", code, out, errOut)
	}
	aptCheck := func() (string, bool) {
		out, err := exec.Command("chroot", root, "apt-get", "check").CombinedOutput()
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, " ") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n"), err == nil
	}
	if out, err := exec.Command("chroot", root, "dpkg", "--remove", "--force-depends", "libsemanage-common").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --remove: %v\n%s", err, out)
	}
	want, ok := aptCheck()
	if ok || want == "" {
		t.Fatalf("apt-get check after the removal: ok %v %q", ok, want)
	}
	code, out, errOut := g("check")
	if code != 1 || !strings.Contains(errOut, "unmet dependencies") {
		t.Errorf("grey check: exit %d %q", code, errOut)
	}
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, " ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("grey check:\n%s\napt-get check:\n%s", strings.Join(got, "\n"), want)
	}
	code, out, _ = g("--json", "check")
	var problems []checkProblem
	if err := json.Unmarshal([]byte(out), &problems); code != 1 || err != nil || len(problems) != 1 ||
		problems[0] != (checkProblem{"libsemanage2", "Depends", "libsemanage-common (>= 3.4-1)", "but it is not installed"}) {
		t.Errorf("grey --json check: %d %v %s", code, err, out)
	}
}
