package mirror

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/resolver/distcheck"
)

// mirrorPackages reads every Packages index the mirror serves.
func mirrorPackages(t *testing.T, dir string) []*deb.Package {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "dists/*/*/binary-*/Packages"))
	var all []*deb.Package
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := resolver.ReadPackages(f, p, p)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ps...)
	}
	return all
}

// TestFullPartialMirror mirrors `--packages hello python3 --with-deps`
// from the full bookworm index, in both closure modes: the filtered
// indexes hold exactly the closure, every package in them is installable
// (distcheck), they are signed by the mirror's key, and apt resolves
// hello and python3 from them alone.
func TestFullPartialMirror(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	fx := testfixture.Bookworm(t)
	_, kp := testKey(t, "mirror", t.TempDir())
	counts := map[string]int{}
	for _, mode := range []string{AllAlternatives, Preferred} {
		t.Run(mode, func(t *testing.T) {
			m := newMirror(t, fixtureSources(t, "file://"+fx), func(c *Config) {
				c.Packages = []string{"hello", "python3"}
				c.WithDeps = true
				c.Closure = mode
				c.Key = kp.Secret
			})
			sum := syncOnce(t, m)
			t.Logf("%s", sum)
			got := mirrorPackages(t, m.Dir)
			counts[mode] = len(got)
			names := map[string]bool{}
			for _, p := range got {
				names[p.Name] = true
			}
			for _, want := range []string{"hello", "python3", "libc6", "libpython3.11-stdlib"} {
				if !names[want] {
					t.Errorf("the partial mirror lacks %s", want)
				}
			}
			// Exactly the closure: the same selection computed from the
			// upstream indexes directly.
			var upstream []*deb.Package
			for _, ix := range testfixture.Indexes {
				f, err := os.Open(filepath.Join(fx, ix))
				if err != nil {
					t.Fatal(err)
				}
				ps, err := resolver.ReadPackages(f, ix, ix)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				upstream = append(upstream, ps...)
			}
			keep, err := Closure(context.Background(), upstream, ClosureOptions{
				Packages: []string{"hello", "python3"}, WithDeps: true, Preferred: mode == Preferred, Architecture: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			if a, b := idents(got), keys(keep); a != b {
				t.Errorf("the mirror holds\n%s\nthe closure is\n%s", a, b)
			}
			rep, err := distcheck.Check(context.Background(), got, distcheck.Options{Architecture: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range rep.Broken {
				t.Errorf("not installable from the partial mirror: %s: %s", b.Package, b.Reason)
			}
			// apt accepts the mirror's signature and resolves from it
			// (the fixture's pool lacks python3's .debs: simulate).
			var lines []string
			for _, s := range []string{"bookworm", "bookworm-updates", "bookworm-security"} {
				lines = append(lines, fmt.Sprintf("deb [signed-by=%s check-valid-until=no] file://%s %s main", kp.Keyring, m.Dir, s))
			}
			e := newAptEnv(t, lines...)
			out, err := e.run("update")
			if err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
				t.Fatalf("apt-get update: %v\n%s", err, out)
			}
			out, err = e.run("install", "-s", "--no-install-recommends", "hello", "python3")
			if err != nil {
				t.Fatalf("apt-get install -s hello python3: %v\n%s", err, out)
			}
			inst := regexp.MustCompile(`(?m)^Inst (\S+) \((\S+) `).FindAllStringSubmatch(out, -1)
			if len(inst) < 10 {
				t.Errorf("apt installs only %d packages:\n%s", len(inst), out)
			}
			for _, m := range inst {
				if !names[m[1]] {
					t.Errorf("apt chose %s %s, which the mirror does not hold", m[1], m[2])
				}
			}
			if mode != Preferred {
				return
			}
			// A snapshot of a filtered mirror keeps the mirror's
			// signature, and apt accepts it.
			if _, err := TakeSnapshot(context.Background(), m, "s1", ""); err != nil {
				t.Fatal(err)
			}
			served, _ := os.ReadFile(filepath.Join(m.Dir, "dists/bookworm/InRelease"))
			snap, _ := os.ReadFile(filepath.Join(m.Dir, "snapshots/s1/dists/bookworm/InRelease"))
			if len(served) == 0 || string(served) != string(snap) {
				t.Error("the snapshot's InRelease is not the mirror's")
			}
			for i := range lines {
				lines[i] = strings.Replace(lines[i], m.Dir, m.Dir+"/snapshots/s1", 1)
			}
			e = newAptEnv(t, lines...)
			if out, err := e.run("update"); err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
				t.Fatalf("apt-get update from the snapshot: %v\n%s", err, out)
			}
		})
	}
	t.Logf("closure sizes: %v", counts)
}

func idents(ps []*deb.Package) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+" "+p.Version.String()+" "+p.Architecture)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func keys(m map[*deb.Package]bool) string {
	var ps []*deb.Package
	for p := range m {
		ps = append(ps, p)
	}
	return idents(ps)
}

// TestFullPartialMirrorHost mirrors `--packages "hello python3"
// --with-deps` (apt's choices) from the host's Debian mirror, whose pool is
// whole: apt, with the mirror's key, then downloads every package python3
// and hello need from the partial mirror alone into an empty root's cache,
// checking each against the filtered index.
func TestFullPartialMirrorHost(t *testing.T) {
	t.Parallel()
	testfixture.WholeIndex(t)
	uri := testfixture.DebianMirror(t, "bookworm")
	kr := "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(kr); err != nil {
		testfixture.Missing(t, kr)
	}
	_, kp := testKey(t, "mirror", t.TempDir())
	m := newMirror(t, []string{fmt.Sprintf("deb [signed-by=%s] %s bookworm main", kr, uri)}, func(c *Config) {
		c.Packages, c.WithDeps, c.Closure, c.Key, c.AllowMissing = []string{"hello", "python3"}, true, Preferred, kp.Secret, false
	})
	sum, err := Sync(context.Background(), m, SyncOptions{Now: time.Now, Fetcher: testFetcher()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", sum)
	got := mirrorPackages(t, m.Dir)
	rep, err := distcheck.Check(context.Background(), got, distcheck.Options{Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Broken {
		t.Errorf("not installable from the partial mirror: %s: %s", b.Package, b.Reason)
	}
	e := newAptEnv(t, fmt.Sprintf("deb [signed-by=%s] file://%s bookworm main", kp.Keyring, m.Dir))
	e.updateAndDownload("python3", "hello")
	debs, _ := filepath.Glob(filepath.Join(m.Dir, "pool/*/*/*/*.deb"))
	if len(debs) != len(got) {
		t.Errorf("the pool holds %d .debs, the indexes %d packages", len(debs), len(got))
	}
}
