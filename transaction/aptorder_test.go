package transaction

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// greyOrder returns the unpack and configure steps grey takes for plan
// ("Inst NAME" and "Conf NAME" in order): per Pre-Depends stage, every
// package of the stage unpacked in plan order, then configured in
// configureOrder.
func greyOrder(t *testing.T, root string, plan Plan) []string {
	t.Helper()
	stages := preDependStages(plan, Options{Root: root})
	if len(stages) == 0 {
		stages = []Plan{plan}
	}
	var out []string
	for _, st := range stages {
		var items []*cfgItem
		for _, it := range st.Install {
			p, err := installControl(it)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, "Inst "+p.Name)
			items = append(items, &cfgItem{pkg: p, rec: &pkgdb.Package{Name: p.Name, Architecture: p.Architecture}})
		}
		for _, it := range configureOrder(items, nativeArchOf(root)) {
			out = append(out, "Conf "+it.name())
		}
	}
	return out
}

// orderProblems lists the steps of order that configure a package before
// a package it Pre-Depends on or Depends on (among the plan's packages)
// is configured, or unpack one before its pre-dependencies are
// configured; cycles are reported too (both tools must break them).
func orderProblems(t *testing.T, plan Plan, order []string) []string {
	t.Helper()
	deps := map[string][2]relation.Dependency{}
	for _, it := range plan.Install {
		p, err := installControl(it)
		if err != nil {
			t.Fatal(err)
		}
		deps[p.Name] = [2]relation.Dependency{p.PreDepends, p.Depends}
	}
	conf := map[string]bool{}
	var out []string
	for _, step := range order {
		verb, name, _ := strings.Cut(step, " ")
		d, ok := deps[name]
		if !ok {
			continue
		}
		fields := []relation.Dependency{d[0]}
		if verb == "Conf" {
			fields = append(fields, d[1])
		}
		for i, f := range fields {
			for _, rel := range f {
				met := false
				for _, alt := range rel {
					if _, planned := deps[alt.Name]; !planned || conf[alt.Name] || alt.Name == name {
						met = true
					}
				}
				if !met {
					kind := map[int]string{0: "Pre-Depends", 1: "Depends"}[i]
					out = append(out, step+" before its "+kind+" "+rel[0].Name+" is configured")
				}
			}
		}
		if verb == "Conf" {
			conf[name] = true
		}
	}
	return out
}

// TestFullHostOrderAgainstApt compares, for a real multi-package install
// on a real Debian root, the order in which grey unpacks and configures
// with the order apt gives dpkg (apt-get -s: "Inst" and "Conf" lines).
// Both must configure every package after its Pre-Depends and Depends
// within the plan, except where a dependency cycle is broken, and unpack
// none before its Pre-Depends are configured; the two orders are logged
// (docs/transactions.md says how they differ).
func TestFullHostOrderAgainstApt(t *testing.T) {
	testfixture.Root(t)
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		_ = os.Remove(filepath.Join(root, "etc/resolv.conf"))
		if err := os.WriteFile(filepath.Join(root, "etc/resolv.conf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chroot := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("chroot", append([]string{root}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	chroot("apt-get", "update")
	// iptables-persistent Pre-Depends on iptables, which the plan installs.
	pkgs := []string{"--no-install-recommends", "openssh-client", "man-db", "iptables-persistent"}
	sim := chroot(append([]string{"apt-get", "-s", "install"}, pkgs...)...)
	chroot(append([]string{"apt-get", "install", "-d", "-y"}, pkgs...)...)
	line := regexp.MustCompile(`^(Inst|Conf) (\S+) `)
	var apt []string
	var plan Plan
	for _, l := range strings.Split(sim, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name, _, _ := strings.Cut(m[2], ":")
		apt = append(apt, m[1]+" "+name)
		if m[1] == "Inst" {
			debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives", name+"_*.deb"))
			if len(debs) != 1 {
				t.Fatalf("%s: %d downloaded files", name, len(debs))
			}
			plan.Install = append(plan.Install, Install{Path: debs[0]})
		}
	}
	if len(plan.Install) < 10 {
		t.Fatalf("apt plans %d packages:\n%s", len(plan.Install), sim)
	}
	// grey's plan comes from its resolver, not from apt: order it by name
	// so that grey's own ordering does the work.
	sorted := Plan{Install: append([]Install(nil), plan.Install...)}
	slices.SortFunc(sorted.Install, func(a, b Install) int { return strings.Compare(filepath.Base(a.Path), filepath.Base(b.Path)) })
	grey := greyOrder(t, root, sorted)
	t.Logf("apt's order (%d steps):\n%s", len(apt), strings.Join(apt, "\n"))
	t.Logf("grey's order (%d steps):\n%s", len(grey), strings.Join(grey, "\n"))
	for who, order := range map[string][]string{"apt": apt, "grey": grey} {
		if probs := orderProblems(t, plan, order); len(probs) > 0 {
			t.Logf("%s: %d steps before a dependency is configured (cycles broken):\n%s", who, len(probs), strings.Join(probs, "\n"))
			if who == "grey" {
				for _, p := range probs {
					if strings.Contains(p, "Pre-Depends") {
						t.Errorf("grey: %s", p)
					}
				}
			}
		}
	}
}
