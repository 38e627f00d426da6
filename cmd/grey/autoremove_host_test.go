package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestFullHostAutoremoveKeepsEssential is issue 15's first point through
// the command line, on a real root: an mmdebstrap minbase root with git,
// where (as on an installed system, whose installer marks most packages
// automatic) every package but git is marked automatic. `grey remove
// --autoremove git` and `grey autoremove` must remove what apt-get -s does
// in the same root (git with git-man and liberror-perl, nothing for a bare
// autoremove) and never an Essential package or anything one needs.
func TestFullHostAutoremoveKeepsEssential(t *testing.T) {
	t.Parallel()
	dir := testfixture.DebianRoot(t, testfixture.RootSpec{Include: []string{"git"}})
	h := &hostRoot{t: t, dir: dir, dpkg: testfixture.Tool(t, "dpkg", "dpkg"), dpkgQuery: testfixture.Tool(t, "dpkg-query", "dpkg")}
	testfixture.Tool(t, "chroot", "coreutils")
	// grey reads the same mirror the root's apt uses (as newHostRoot).
	kr := filepath.Join(dir, "usr/share/keyrings/debian-archive-keyring.gpg")
	must(t, os.MkdirAll(filepath.Join(dir, "etc/grey"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "etc/grey/sources.list"),
		[]byte(fmt.Sprintf("deb [signed-by=%s] %s bookworm main\n", kr, testfixture.DebianMirror(t, "bookworm"))), 0o644))
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		_ = os.Remove(filepath.Join(dir, "etc/resolv.conf"))
		must(t, os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), b, 0o644))
	}
	all, err := h.run(h.dpkgQuery, "--admindir="+filepath.Join(dir, "var/lib/dpkg"), "-W", "-f", "${Package}\n")
	if err != nil {
		t.Fatalf("dpkg-query: %v\n%s", err, all)
	}
	if out, err := h.chroot(append([]string{"apt-mark", "auto"}, strings.Fields(all)...)...); err != nil {
		t.Fatalf("apt-mark auto: %v\n%s", err, out)
	}
	if out, err := h.chroot("apt-mark", "manual", "git"); err != nil {
		t.Fatalf("apt-mark manual git: %v\n%s", err, out)
	}
	essential := map[string]bool{}
	ess, err := h.run(h.dpkgQuery, "--admindir="+filepath.Join(dir, "var/lib/dpkg"), "-W", "-f", "${Package} ${Essential}\n")
	if err != nil {
		t.Fatalf("dpkg-query: %v\n%s", err, ess)
	}
	for _, l := range strings.Split(ess, "\n") {
		if name, yes := strings.CutSuffix(l, " yes"); yes {
			essential[name] = true
		}
	}
	if len(essential) < 10 {
		t.Fatalf("only %d Essential packages in the root", len(essential))
	}
	// apt's answer, from its simulation in the root (Remv lines).
	aptRemoves := func(args ...string) []string {
		t.Helper()
		out, err := h.chroot(append([]string{"apt-get", "-s", "-o", "Debug::NoLocking=1"}, args...)...)
		if err != nil {
			t.Fatalf("apt-get -s %v: %v\n%s", args, err, out)
		}
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(l, "Remv "); ok {
				names = append(names, strings.Fields(rest)[0])
			}
		}
		sort.Strings(names)
		return names
	}
	greyRemoves := func(args ...string) []string {
		t.Helper()
		code, out, errOut := h.grey(append([]string{"--dry-run", "--json"}, args...)...)
		var res struct {
			Plan struct {
				Remove []struct{ Name string } `json:"remove"`
			} `json:"plan"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil {
			t.Fatalf("grey --dry-run --json %v: exit %d\n%s%s", args, code, out, errOut)
		}
		var names []string
		for _, r := range res.Plan.Remove {
			names = append(names, r.Name)
		}
		sort.Strings(names)
		return names
	}
	h.mustGrey("update")
	before := h.status()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"remove", "--autoremove", "git"}, []string{"git", "git-man", "liberror-perl"}},
		{[]string{"autoremove"}, nil},
	} {
		got, apt := greyRemoves(c.args...), aptRemoves(c.args...)
		for _, n := range got {
			if essential[n] {
				t.Errorf("grey %v removes the Essential package %s", c.args, n)
			}
		}
		if !slices.Equal(got, apt) {
			t.Errorf("grey %v removes %v; apt-get -s removes %v", c.args, got, apt)
		}
		for _, n := range c.want {
			if !slices.Contains(got, n) {
				t.Errorf("grey %v does not remove %s (removes %v)", c.args, n, got)
			}
		}
		if c.want == nil && len(got) != 0 {
			t.Errorf("grey %v removes %v, want nothing", c.args, got)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "var/lib/dpkg/status")); string(after) != string(before) {
		t.Error("a --dry-run changed dpkg's status")
	}
}
