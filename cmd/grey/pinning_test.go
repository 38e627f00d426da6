package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// aptSimChanges reads apt-get -s output: one "name old->new" word per
// Inst and Remv line ("-" for none), sorted.
func aptSimChanges(out string) []string {
	inst := regexp.MustCompile(`^Inst (\S+) (?:\[(\S+)\] )?\((\S+) `)
	remv := regexp.MustCompile(`^Remv (\S+) (?:\[(\S+)\])?`)
	var ch []string
	for _, line := range strings.Split(out, "\n") {
		if m := inst.FindStringSubmatch(line); m != nil {
			old := m[2]
			if old == "" {
				old = "-"
			}
			ch = append(ch, m[1]+" "+old+"->"+m[3])
		} else if m := remv.FindStringSubmatch(line); m != nil {
			ch = append(ch, m[1]+" "+m[2]+"->-")
		}
	}
	slices.Sort(ch)
	return ch
}

// greyPlanChanges reads grey's --json plan in the same words.
func greyPlanChanges(t *testing.T, out string) []string {
	t.Helper()
	var v struct {
		Plan planJSON `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, out)
	}
	var ch []string
	word := func(e planEntry) string {
		old, nw := e.OldVersion, e.NewVersion
		if old == "" {
			old = "-"
		}
		if nw == "" {
			nw = "-"
		}
		return e.Name + " " + old + "->" + nw
	}
	for _, l := range [][]planEntry{v.Plan.Install, v.Plan.Upgrade, v.Plan.Downgrade, v.Plan.Remove, v.Plan.Reinstall} {
		for _, e := range l {
			ch = append(ch, word(e))
		}
	}
	slices.Sort(ch)
	return ch
}

// TestFullPinningMatchesAptGet checks that a preferences file changes
// grey's install and upgrade exactly as it changes apt's: on one installed
// state (real status stanzas of the fixture's packages) and the fixture's
// three suites, `grey --dry-run --json` and `apt-get -s` make the same
// changes under each preferences file.
func TestFullPinningMatchesAptGet(t *testing.T) {
	t.Parallel()
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	if showRace {
		t.Skip("needs bookworm main, left out under -race")
	}
	root, _ := updatedRootOf(t, false)
	// An installed system of older versions: liblzma5 and tzdata from
	// bookworm and bookworm-updates, with what they need.
	installed := [][2]string{
		{"gcc-12-base", "12.2.0-14+deb12u1"}, {"libgcc-s1", "12.2.0-14+deb12u1"}, {"libc6", "2.36-9+deb12u14"},
		{"libcrypt1", "1:4.4.33-2"}, {"perl-base", "5.36.0-7+deb12u3"}, {"debconf", "1.5.82"},
		{"liblzma5", "5.4.1-1+deb12u1"}, {"tzdata", "2025b-0+deb12u1"},
		{"dpkg", "1.21.23"}, {"tar", "1.34+dfsg-1.2+deb12u1"}, {"libacl1", "2.3.1-3"}, {"libselinux1", "3.4-1+b6"},
		{"libpcre2-8-0", "10.42-1"}, {"libbz2-1.0", "1.0.8-5+b1"}, {"libmd0", "1.0.4-2"}, {"libzstd1", "1.5.4+dfsg2-5"},
		{"zlib1g", "1:1.2.13.dfsg-1"},
	}
	var status strings.Builder
	for _, p := range installed {
		status.WriteString(installedStanza(t, root, p[0], p[1]))
	}
	apt := testfixture.NewAptEnv(t, testfixture.AptOptions{Suites: fixtureSuites})
	tests := []struct {
		name, prefs string
		args        []string
	}{
		{"upgrade", "", []string{"upgrade"}},
		{"upgrade, security below bookworm", "Package: *\nPin: release n=bookworm-security\nPin-Priority: 400\n", []string{"upgrade"}},
		{"upgrade, security never", "Package: *\nPin: release l=Debian-Security\nPin-Priority: never\n", []string{"upgrade"}},
		{"upgrade, tzdata held back by a pin", "Package: tzdata\nPin: version 2025b*\nPin-Priority: 1001\n", []string{"upgrade"}},
		{"install, a downgrade pin", "Package: liblzma5\nPin: version 5.4.1-1+deb12u1\nPin-Priority: 1001\n\nPackage: libpcre2-8-0\nPin: version 10.42-1\nPin-Priority: 1001\n", []string{"install", "hello", "liblzma5"}},
		{"install, security below bookworm", "Package: *\nPin: release n=bookworm-security\nPin-Priority: 400\n", []string{"install", "hello", "liblzma5"}},
		{"install, security pinned up", "Package: *\nPin: release n=bookworm-security\nPin-Priority: 600\n", []string{"install", "libpcre2-8-0"}},
		{"install name/release", "", []string{"install", "tzdata/bookworm"}},
		{"install, target release", "", []string{"-t", "bookworm-updates", "install", "distro-info-data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apt.Set(t, tt.prefs, status.String())
			// Dry runs leave the root as it was, so every case uses the
			// one root with its own preferences (a copy of the updated
			// root per case cost a third of this package's TestFull time).
			r := root
			for _, f := range []struct{ path, data string }{
				{"etc/apt/preferences", tt.prefs},
				{"var/lib/dpkg/status", status.String()},
			} {
				p := filepath.Join(r, f.path)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			aptArgs := append([]string{"-s", "-o", "APT::Get::Show-Versions=0"}, tt.args...)
			cmd := apt.Command(context.Background(), aptGet, aptArgs...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("apt-get %s: %v\n%s", strings.Join(aptArgs, " "), err, out)
			}
			want := aptSimChanges(string(out))
			args := append([]string{"--root", r, "--json", "--dry-run", "-y"}, tt.args...)
			code, gout, errOut := grey(t, "", args...)
			if code != 0 {
				t.Fatalf("grey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
			}
			got := greyPlanChanges(t, gout)
			if !slices.Equal(got, want) {
				t.Errorf("grey %s:\n%s\napt-get -s:\n%s", strings.Join(tt.args, " "), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if tt.args[0] != "upgrade" {
				return
			}
			// apt list --upgradable names the same candidates.
			out, err = apt.Command(context.Background(), "apt", "list", "--upgradable").CombinedOutput()
			if err != nil {
				t.Fatalf("apt list --upgradable: %v\n%s", err, out)
			}
			code, gout, errOut = grey(t, "", "--root", r, "list", "--upgradable")
			if code != 0 {
				t.Fatalf("grey list --upgradable: exit %d: %s", code, errOut)
			}
			if g, w := upgradableWords(gout), upgradableWords(string(out)); !slices.Equal(g, w) {
				t.Errorf("grey list --upgradable:\n%s\napt list --upgradable:\n%s", gout, out)
			}
		})
	}
}

// upgradableWords reads list --upgradable lines as "name version" words,
// sorted (the suite names differ: apt prints the Release's, grey the
// configured one).
func upgradableWords(out string) []string {
	var ws []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.Contains(f[0], "/") {
			continue
		}
		name, _, _ := strings.Cut(f[0], "/")
		ws = append(ws, name+" "+f[1])
	}
	slices.Sort(ws)
	return ws
}
