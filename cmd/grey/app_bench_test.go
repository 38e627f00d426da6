package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
				g := func(args ...string) {
					var out, errb bytes.Buffer
					code := run(context.Background(), append(append([]string{"--root", root}, src...), args...), strings.NewReader(""), &out, &errb,
						func() time.Time { return testfixture.Clock })
					if code != 0 {
						b.Fatalf("%v: %d %s %s", args, code, out.String(), errb.String())
					}
				}
				g("update")
				install := func(app string) {
					args := []string{"app", "install"}
					if !sync {
						args = append(args, "--no-sync")
					}
					g(append(append(args, app), pkgs...)...)
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
