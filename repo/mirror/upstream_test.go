package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/key"
)

// upstream is a repository grey repo publish writes, and a mirror of it.
type upstream struct {
	dir     string
	k       *key.Key
	keyring string
	m       *Mirror
}

func newUpstream(t *testing.T, pkgs ...pkgSpec) *upstream {
	t.Helper()
	u := &upstream{dir: t.TempDir()}
	var kp key.Paths
	u.k, kp = testKey(t, "upstream", t.TempDir())
	u.keyring = kp.Keyring
	u.publish(t, clock().Add(-72*time.Hour), pkgs...)
	u.m = newMirror(t, []string{u.line("file://" + u.dir)}, func(c *Config) { c.AllowMissing = false })
	return u
}

func (u *upstream) line(uri string) string {
	return fmt.Sprintf("deb [signed-by=%s] %s stable main", u.keyring, uri)
}

func (u *upstream) publish(t *testing.T, date time.Time, pkgs ...pkgSpec) {
	t.Helper()
	publishUpstream(t, u.dir, u.k, date, pkgs...)
}

func flipByte(t *testing.T, p string) {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSyncRefusesTampered: an upstream whose index, signature, pool file
// or date is wrong is refused, and the served mirror stays byte-identical
// with the same history.
func TestSyncRefusesTampered(t *testing.T) {
	v1 := []pkgSpec{{"pa", "1.0", ""}, {"pb", "1.0", ""}}
	v2 := []pkgSpec{{"pa", "1.1", ""}, {"pb", "1.0", ""}}
	cases := []struct {
		name   string
		tamper func(t *testing.T, u *upstream)
		reason string
	}{
		{"index hash", func(t *testing.T, u *upstream) {
			u.publish(t, clock().Add(-24*time.Hour), v2...)
			dir := filepath.Join(u.dir, "dists/stable/main/binary-amd64")
			paths, _ := filepath.Glob(filepath.Join(dir, "by-hash/SHA256/*"))
			for _, p := range append(paths, filepath.Join(dir, "Packages.xz"), filepath.Join(dir, "Packages.gz"), filepath.Join(dir, "Packages")) {
				flipByte(t, p)
			}
		}, "differs from what the metadata says"},
		{"InRelease signature", func(t *testing.T, u *upstream) {
			u.publish(t, clock().Add(-24*time.Hour), v2...)
			p := filepath.Join(u.dir, "dists/stable/InRelease")
			data, _ := os.ReadFile(p)
			bad := strings.Replace(string(data), "Label: test", "Label: tesT", 1)
			if bad == string(data) {
				t.Fatal("nothing to tamper with")
			}
			if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "signature check failed"},
		{"pool file", func(t *testing.T, u *upstream) {
			u.publish(t, clock().Add(-24*time.Hour), v2...)
			paths, _ := filepath.Glob(filepath.Join(u.dir, "pool/main/p/pa/pa_1.1_amd64.deb"))
			if len(paths) != 1 {
				t.Fatal("no pa_1.1 in the pool")
			}
			flipByte(t, paths[0])
		}, "differs from what the metadata says"},
		{"older InRelease", func(t *testing.T, u *upstream) {
			// The mirror took a newer state; upstream then serves the
			// older one again (its by-hash indexes are still there).
			old, _ := os.ReadFile(filepath.Join(u.dir, "dists/stable/InRelease"))
			u.publish(t, clock().Add(-24*time.Hour), v2...)
			syncOnce(t, u.m)
			if err := os.WriteFile(filepath.Join(u.dir, "dists/stable/InRelease"), old, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "a rollback"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t, v1...)
			syncOnce(t, u.m)
			tc.tamper(t, u)
			before := servedHash(t, u.m.Dir)
			head := gitHead(t, u.m.Dir)
			_, err := Sync(context.Background(), u.m, SyncOptions{Now: clock, Fetcher: testFetcher()})
			var re *repo.RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("sync of a tampered upstream: %v, want a refusal: %s", err, tc.reason)
			}
			if servedHash(t, u.m.Dir) != before {
				t.Error("the refused sync changed the served tree")
			}
			if gitHead(t, u.m.Dir) != head {
				t.Error("the refused sync committed")
			}
		})
	}
}

func gitHead(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ".git/refs/heads/master"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// TestDiffBetweenPublishes: two syncs of a repository changed in between
// (added, removed, upgraded, downgraded): the diff of the two snapshots is
// exactly those changes, both snapshots stay servable to apt, also after
// gc, and plain git reads the history.
func TestDiffBetweenPublishes(t *testing.T) {
	u := newUpstream(t, pkgSpec{"pa", "1.0", ""}, pkgSpec{"pb", "1.0", ""}, pkgSpec{"pc", "1.0", ""}, pkgSpec{"pd", "2.0", ""})
	ctx := context.Background()
	syncOnce(t, u.m)
	if _, err := TakeSnapshot(ctx, u.m, "s1", ""); err != nil {
		t.Fatal(err)
	}
	u.publish(t, clock().Add(-24*time.Hour), pkgSpec{"pa", "1.1", ""}, pkgSpec{"pc", "1.0", ""}, pkgSpec{"pd", "1.0", ""}, pkgSpec{"pe", "1.0", "Depends: pc\n"})
	syncOnce(t, u.m)
	if _, err := TakeSnapshot(ctx, u.m, "s2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := TakeSnapshot(ctx, u.m, "s2", ""); !errors.Is(err, ErrSnapshotExists) {
		t.Errorf("second snapshot s2: %v, want ErrSnapshotExists", err)
	}
	want := []string{
		"upgraded pa 1.0 -> 1.1 amd64 (stable/main)",
		"removed pb 1.0 amd64 (stable/main)",
		"downgraded pd 2.0 -> 1.0 amd64 (stable/main)",
		"added pe 1.0 amd64 (stable/main)",
	}
	for _, revs := range [][2]string{{"s1", "s2"}, {"HEAD~1", "HEAD"}} {
		chs, err := Diff(ctx, u.m, revs[0], revs[1])
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range chs {
			got = append(got, c.String())
		}
		if !slices.Equal(got, want) {
			t.Errorf("diff %s %s:\n%s\nwant:\n%s", revs[0], revs[1], strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	ss, err := Snapshots(u.m)
	if err != nil || len(ss) != 2 || ss[0].Tag != "s1" || ss[1].Tag != "s2" {
		t.Errorf("snapshots: %+v, %v", ss, err)
	}
	if _, err := exec.LookPath("git"); err == nil {
		git := testfixture.Tool(t, "git", "git")
		out, err := exec.Command(git, "-C", u.m.Dir, "log", "--oneline").CombinedOutput()
		if err != nil || len(lines(string(out))) != 2 {
			t.Errorf("git log: %v\n%s", err, out)
		}
		out, err = exec.Command(git, "-C", u.m.Dir, "status", "--porcelain").CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("git status is not clean: %v\n%s", err, out)
		}
		out, err = exec.Command(git, "-C", u.m.Dir, "diff", "--stat", "s1", "s2").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "dists/stable/InRelease") {
			t.Errorf("git diff s1 s2: %v\n%s", err, out)
		}
	}
	res, err := GC(ctx, u.m, clock)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept != 7 {
		t.Errorf("gc kept %d pool files, want 7 (a 1.0 and 1.1, b, c, d 2.0 and 1.0, e): deleted %v", res.Kept, res.Deleted)
	}
	for _, s := range []struct{ tag, pkg string }{{"s1", "pb"}, {"s2", "pe"}} {
		newAptEnv(t, u.line("file://"+u.m.Dir+"/snapshots/"+s.tag)).updateAndDownload(s.pkg)
	}
	newAptEnv(t, u.line("file://"+u.m.Dir)).updateAndDownload("pe", "pa=1.1")

}

// TestSyncReleaseAndGpg: an upstream without InRelease is mirrored from
// Release and Release.gpg (verified as grey update verifies them); when it
// later serves an InRelease, the old pair is removed once the InRelease is
// in place, so no stale signed file describes an older state.
func TestSyncReleaseAndGpg(t *testing.T) {
	u := newUpstream(t, pkgSpec{"pa", "1.0", ""})
	if err := os.Remove(filepath.Join(u.dir, "dists/stable/InRelease")); err != nil {
		t.Fatal(err)
	}
	syncOnce(t, u.m)
	for name, want := range map[string]bool{"InRelease": false, "Release": true, "Release.gpg": true} {
		if _, err := os.Stat(filepath.Join(u.m.Dir, "dists/stable", name)); (err == nil) != want {
			t.Errorf("after a sync from Release and Release.gpg, %s exists: %v, want %v", name, err == nil, want)
		}
	}
	newAptEnv(t, u.line("file://"+u.m.Dir)).updateAndDownload("pa")
	u.publish(t, clock().Add(-24*time.Hour), pkgSpec{"pa", "1.1", ""})
	syncOnce(t, u.m)
	for name, want := range map[string]bool{"InRelease": true, "Release": false, "Release.gpg": false} {
		if _, err := os.Stat(filepath.Join(u.m.Dir, "dists/stable", name)); (err == nil) != want {
			t.Errorf("after a sync from InRelease, %s exists: %v, want %v", name, err == nil, want)
		}
	}
	newAptEnv(t, u.line("file://"+u.m.Dir)).updateAndDownload("pa=1.1")
}

// TestSyncReusesServedPool: a changed upstream re-fetches only new pool
// files; one the served indexes already name is trusted by its size, and
// one whose size is wrong (damaged on disk) is fetched again.
func TestSyncReusesServedPool(t *testing.T) {
	u := newUpstream(t, pkgSpec{"pa", "1.0", ""}, pkgSpec{"pb", "1.0", ""}, pkgSpec{"pc", "1.0", ""})
	syncOnce(t, u.m)
	damaged := filepath.Join(u.m.Dir, "pool/main/p/pb/pb_1.0_amd64.deb")
	if err := os.Truncate(damaged, 10); err != nil {
		t.Fatal(err)
	}
	u.publish(t, clock().Add(-24*time.Hour), pkgSpec{"pa", "1.0", ""}, pkgSpec{"pb", "1.0", ""}, pkgSpec{"pc", "1.0", ""}, pkgSpec{"pd", "1.0", ""})
	sum := syncOnce(t, u.m)
	// Three indexes, pd, and pb again; pa and pc reused.
	if sum.Reused != 2 || sum.Files != 5 {
		t.Errorf("sync: %+v, want 2 reused and 5 fetched", sum)
	}
	checkServed(t, u.m.Dir, u.keyring)
}
