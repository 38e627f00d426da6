package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// BenchmarkAppInstall composes app roots of hello, busybox, base-files and
// netbase (8 packages with libc6, 17 MB) from the bookworm fixture, the
// .debs already in the archive cache: "cold" into an empty store (the
// apps directory is moved away, untimed, before each), "warm" as another
// app beside one with the same packages (every package taken from the
// store's manifests). With and without --no-sync. Nothing is deleted
// until the benchmark ends.
func BenchmarkAppInstall(b *testing.B) {
	fx := testfixture.Bookworm(b)
	pkgs := []string{"hello", "busybox", "base-files", "netbase"}
	for _, sync := range []bool{false, true} {
		for _, warm := range []bool{false, true} {
			name := map[bool]string{false: "cold", true: "warm"}[warm] + map[bool]string{false: "/no-sync", true: "/sync"}[sync]
			b.Run(name, func(b *testing.B) {
				root := b.TempDir()
				src := fixtureSourceArgs(fx)
				lastOut := ""
				g := func(args ...string) {
					var out, errb bytes.Buffer
					code := run(context.Background(), append(append([]string{"--root", root}, src...), args...), strings.NewReader(""), &out, &errb,
						func() time.Time { return testfixture.Clock })
					if code != 0 {
						b.Fatalf("%v: %d %s %s", args, code, out.String(), errb.String())
					}
					lastOut = out.String()
				}
				g("update")
				install := func(app string) {
					args := []string{"app", "install"}
					if !sync {
						args = append(args, "--no-sync")
					}
					g(append(append(args, app), pkgs...)...)
					if testing.Verbose() {
						b.Logf("%s: %s", app, lastOut)
					}
				}
				install("first") // fills the archive cache (and the store)
				apps := filepath.Join(root, "var/lib/grey/apps")
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if !warm {
						b.StopTimer()
						if err := os.Rename(apps, filepath.Join(root, fmt.Sprintf("apps-%d", i))); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					install(fmt.Sprintf("app%d", i))
				}
			})
		}
	}
}

// BenchmarkAppVersusImage builds the same package set as
// BenchmarkAppInstall (hello, busybox, base-files, netbase) with
// "grey image build" (locked, downloads cached in its state directory,
// a directory output) and with mmdebstrap --variant=extract (apt resolves
// the same closure from the fixture, a copy:// mirror: the .debs are
// copied into the target, as mmdebstrap needs for a local mirror;
// unpacked with dpkg-deb, no dpkg database, no scripts), for comparison
// with an app install.
func BenchmarkAppVersusImage(b *testing.B) {
	fx := testfixture.Bookworm(b)
	kr := filepath.Join(fx, "debian-archive-keyring.gpg")
	pkgs := []string{"hello", "busybox", "base-files", "netbase"}
	b.Run("image-build", func(b *testing.B) {
		dir := b.TempDir()
		spec := filepath.Join(dir, "app.yaml")
		if err := os.WriteFile(spec, []byte(fmt.Sprintf(
			"sources:\n  - \"deb [signed-by=%s] file://%s/debian bookworm main\"\npackages: [%s]\nsource-date-epoch: 1767225600\n",
			kr, fx, strings.Join(pkgs, ", "))), 0o644); err != nil {
			b.Fatal(err)
		}
		state := filepath.Join(dir, "state")
		build := func(args ...string) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"image", "build", "--state-dir", state, spec, "-o"}, args...), strings.NewReader(""), &out, &errb,
				func() time.Time { return testfixture.Clock })
			if code != 0 {
				b.Fatalf("image build: %d %s %s", code, out.String(), errb.String())
			}
		}
		build(filepath.Join(dir, "warm")) // the lock and the download cache
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			build(filepath.Join(dir, fmt.Sprint(i)), "--locked")
		}
	})
	b.Run("mmdebstrap-extract", func(b *testing.B) {
		mm := testfixture.Tool(b, "mmdebstrap", "mmdebstrap")
		dir := b.TempDir()
		for i := 0; b.Loop(); i++ {
			cmd := exec.Command(mm, "--quiet", "--variant=extract", "--include="+strings.Join(pkgs, ","),
				"--keyring="+kr, "--aptopt=Acquire::Check-Valid-Until \"false\"",
				"bookworm", filepath.Join(dir, fmt.Sprint(i)), "deb copy://"+fx+"/debian bookworm main")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("mmdebstrap: %v\n%s", err, out)
			}
		}
	})
}
