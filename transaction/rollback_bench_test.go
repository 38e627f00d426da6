package transaction

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testfixture"
)

// newerFixture rebuilds every fixture .deb as version V+grey1 with the
// same files (dpkg-deb -R, then deb/archive's builder), so that
// installing them is an upgrade of the whole closure.
func newerFixture(b *testing.B, debs []string) []string {
	b.Helper()
	dpkgDeb := testfixture.Tool(b, "dpkg-deb", "dpkg")
	out := b.TempDir()
	ver := regexp.MustCompile(`(?m)^Version: (.*)$`)
	var newer []string
	for i, d := range debs {
		dir := filepath.Join(out, strconv.Itoa(i))
		if o, err := exec.Command(dpkgDeb, "-R", d, dir).CombinedOutput(); err != nil {
			b.Fatalf("dpkg-deb -R %s: %v\n%s", d, err, o)
		}
		ctl := filepath.Join(dir, "DEBIAN", "control")
		raw, err := os.ReadFile(ctl)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(ctl, ver.ReplaceAll(raw, []byte("Version: ${1}+grey1")), 0o644); err != nil {
			b.Fatal(err)
		}
		p := dir + ".deb"
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := archive.Build(context.Background(), dir, f, archive.BuildOptions{SourceDateEpoch: testTime}); err != nil {
			b.Fatalf("build %s: %v", dir, err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		newer = append(newer, p)
	}
	return newer
}

// BenchmarkRollbackFixtureUpgrade times the upgrade of the fixture's
// 22-package closure to rebuilt newer versions, and the rollback that
// undoes it (from the content store), both crash-safe (Sync) and without
// scripts. Each iteration works in a fresh root, prepared outside the
// timer and not deleted until the end (this machine's ext4 slows down after
// many deletions).
func BenchmarkRollbackFixtureUpgrade(b *testing.B) {
	debs := fixtureDebs(b)
	newer := newerFixture(b, debs)
	plan := func(paths []string) Plan {
		var p Plan
		for _, d := range paths {
			p.Install = append(p.Install, Install{Path: d})
		}
		return p
	}
	ctx := context.Background()
	for _, mode := range []string{"upgrade", "rollback"} {
		b.Run(mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root := filepath.Join(b.TempDir(), "root")
				if err := os.MkdirAll(root, 0o755); err != nil {
					b.Fatal(err)
				}
				r := openRoot(b, root)
				opts := Options{Root: root, NoScripts: true, Sync: true}
				if _, err := Apply(ctx, r.DB, plan(debs), opts); err != nil {
					b.Fatal(err)
				}
				if mode == "rollback" {
					if _, err := Apply(ctx, r.DB, plan(newer), opts); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				if mode == "upgrade" {
					if _, err := Apply(ctx, r.DB, plan(newer), opts); err != nil {
						b.Fatal(err)
					}
					continue
				}
				tg, err := TargetAfter(r.DB, 1)
				if err != nil {
					b.Fatal(err)
				}
				rp, err := PlanRollback(r.DB, root, tg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Apply(ctx, r.DB, rp.Plan, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
