package transaction

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/greypm/grey/pkgdb"
)

var lockNoWait = pkgdb.LockOptions{NoWait: true}

// BenchmarkInstallFixture installs the 22 fixture packages into a fresh
// root per iteration, without scripts and with crash-safe writes on. Roots
// are deleted only when the benchmark ends: on this machine's journal-less
// ext4, deleting many files slows the next creations for minutes (see
// docs/bench/install.md).
func BenchmarkInstallFixture(b *testing.B) {
	benchInstall(b, fixtureDebs(b))
}

// BenchmarkInstallDir does the same for every .deb in the directory
// $GREY_BENCH_DEBS (bench/install.sh SET118=1 downloads the 118-package
// closure of the install anchors into one); it is skipped without it.
func BenchmarkInstallDir(b *testing.B) {
	dir := os.Getenv("GREY_BENCH_DEBS")
	if dir == "" {
		b.Skip("set GREY_BENCH_DEBS to a directory of .deb files")
	}
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil || len(debs) == 0 {
		b.Fatalf("no .deb files in %s: %v", dir, err)
	}
	benchInstall(b, debs)
}

func benchInstall(b *testing.B, debs []string) {
	var plan Plan
	var size int64
	for _, d := range debs {
		plan.Install = append(plan.Install, Install{Path: d})
		if fi, err := os.Stat(d); err == nil {
			size += fi.Size()
		}
	}
	workers, _ := strconv.Atoi(os.Getenv("GREY_BENCH_WORKERS")) // 0: the default
	base := b.TempDir()
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		root := filepath.Join(base, fmt.Sprint(i))
		i++
		if err := os.Mkdir(root, 0o755); err != nil {
			b.Fatal(err)
		}
		r, err := OpenRoot(context.Background(), root, lockNoWait)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(context.Background(), r.DB, plan, Options{Root: root, NoScripts: true, Sync: os.Getenv("GREY_BENCH_NOSYNC") == "", Workers: workers}); err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
