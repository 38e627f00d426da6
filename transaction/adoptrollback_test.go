package transaction

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// hostState is what dpkg and the file tree say of a root: dpkg's status
// file, dpkg-query's listing, dpkg -S of some paths and the whole tree
// (grey's own state directory left out).
type hostState struct {
	status, query, search, tree string
}

// scriptMade are files maintainer scripts make that no package owns (a
// rollback, like dpkg --purge, leaves them): ldconfig's cache (libc's
// trigger) and update-alternatives' log.
var scriptMade = map[string]bool{"var/cache/ldconfig/aux-cache": true, "var/log/alternatives.log": true}

func readHostState(t *testing.T, root string, paths []string) hostState {
	t.Helper()
	var s hostState
	b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	must(t, err)
	s.status = string(b)
	out, err := exec.Command("dpkg-query", "--root="+root, "-W", "-f", "${Package}:${Architecture} ${Version} ${db:Status-Abbrev} ${Conffiles}\n").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-query -W: %v\n%s", err, out)
	}
	s.query = string(out)
	for _, p := range paths {
		out, _ := exec.Command("dpkg", "--root="+root, "-S", p).CombinedOutput()
		// The owners of a shared directory, sorted: dpkg lists them in
		// the order it reads the lists, which follows their inodes.
		for _, l := range strings.SplitAfter(string(out), "\n") {
			if owners, path, ok := strings.Cut(l, ": "); ok {
				o := strings.Split(owners, ", ")
				sort.Strings(o)
				l = strings.Join(o, ", ") + ": " + path
			}
			s.search += l
		}
	}
	var keep []string
	for _, l := range strings.SplitAfter(testfixture.TreeListing(t, root), "\n") {
		name, _, _ := strings.Cut(l, " ")
		if name == "var/lib/grey" || strings.HasPrefix(name, "var/lib/grey/") || scriptMade[name] {
			continue
		}
		keep = append(keep, l)
	}
	s.tree = strings.Join(keep, "")
	return s
}

// TestRollbackToAdoption: on a real root made by mmdebstrap, grey adopts
// dpkg's database, installs a package with maintainer scripts and
// alternatives (nano), removes one dpkg installed (apt) and rolls back to
// the adoption: dpkg's status file, dpkg-query, dpkg -S and the file tree
// are as they were right after the adoption, and dpkg --audit and
// --verify find nothing.
func TestRollbackToAdoption(t *testing.T) {
	testfixture.DebianRoot(t, testfixture.RootSpec{Include: []string{"nano"}}) // nano's .deb in the cache
	debs, _ := filepath.Glob(filepath.Join(testfixture.CacheDir(t), "debs", "nano_*_amd64.deb"))
	if len(debs) == 0 {
		t.Fatal("mmdebstrap left no nano .deb in the test cache")
	}
	nano := debs[len(debs)-1]
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	r := openRoot(t, root)
	var adopted *pkgdb.HistoryEntry
	must(t, r.DB.View(func(tx *bolt.Tx) (err error) { adopted, err = pkgdb.LastHistory(tx); return }))
	if adopted == nil || len(adopted.Command) == 0 || adopted.Command[0] != AdoptedCommand {
		t.Fatalf("no adoption entry: %+v", adopted)
	}
	paths := []string{"/bin/ls", "/usr/bin/apt", "/etc/apt/apt.conf.d/01autoremove", "/usr/bin/nano", "/usr", "/etc/cron.daily/apt-compat"}
	before := readHostState(t, root, paths)

	var out bytes.Buffer
	ctx := context.Background()
	if _, err := Apply(ctx, r.DB, Plan{Install: []Install{{Path: nano}}}, Options{Root: root, Sync: true, ScriptOutput: &out}); err != nil {
		t.Fatalf("install nano: %v\n%s", err, out.String())
	}
	if _, err := Apply(ctx, r.DB, Plan{Remove: []Remove{{Name: "apt"}}}, Options{Root: root, Sync: true, ScriptOutput: &out}); err != nil {
		t.Fatalf("remove apt: %v\n%s", err, out.String())
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/bin/apt")); err == nil {
		t.Fatal("apt's files are still there")
	}
	tg, err := TargetAfter(r.DB, adopted.ID)
	must(t, err)
	rp, err := PlanRollback(r.DB, root, tg)
	if err != nil {
		t.Fatalf("plan the rollback to the adoption: %v", err)
	}
	if _, err := Apply(ctx, r.DB, rp.Plan, Options{Root: root, Sync: true, ScriptOutput: &out}); err != nil {
		t.Fatalf("roll back to the adoption: %v\n%s", err, out.String())
	}
	after := readHostState(t, root, paths)
	if after.status != before.status {
		t.Errorf("dpkg's status differs from the adoption's:\n%s", testfixture.DiffListings(before.status, after.status))
	}
	if after.query != before.query {
		t.Errorf("dpkg-query -W differs:\n%s", testfixture.DiffListings(before.query, after.query))
	}
	if after.search != before.search {
		t.Errorf("dpkg -S differs:\nbefore:\n%s\nafter:\n%s", before.search, after.search)
	}
	if after.tree != before.tree {
		t.Errorf("the file tree differs:\n%s", testfixture.DiffListings(before.tree, after.tree))
	}
	if b, err := exec.Command("dpkg", "--root="+root, "--audit").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("dpkg --audit: %v\n%s", err, b)
	}
	if b, err := exec.Command("dpkg", "--root="+root, "--verify").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("dpkg --verify: %v\n%s", err, b)
	}
}
