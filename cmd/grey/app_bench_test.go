package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
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
				// update's soft memory limit would stay for the
				// installs in this process (grey's own processes
				// start without it: BenchmarkAppPython runs them).
				debug.SetMemoryLimit(math.MaxInt64)
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

// benchGrey runs grey as its own process (the test binary with
// testGreyEnv=1) with args and returns its output; it fails b when grey
// fails. Benchmarks of whole commands run them so: in this process, the
// soft memory limit an earlier command sets (update's, install's) would
// stay for every later one, and the test binary's heap would be scanned
// with grey's.
func benchGrey(b testing.TB, args ...string) string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), testGreyEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("grey %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// pythonPair is issue 16's store-sharing pair: two apps whose closures
// share the Essential set and python3 (from the host's Debian mirror,
// bookworm and bookworm-security).
var pythonPair = [2]string{"python3-yaml", "python3-requests"}

// hostMirrorSources returns --source arguments for bookworm and
// bookworm-security from the host's Debian mirror (skips without it).
func hostMirrorSources(b testing.TB) []string {
	kr := "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(kr); err != nil {
		testfixture.Missing(b, "the Debian archive keyring ("+kr+")")
	}
	return []string{
		"--source", "deb [signed-by=" + kr + "] " + testfixture.DebianMirror(b, "bookworm") + " bookworm main",
		"--source", "deb [signed-by=" + kr + "] " + testfixture.DebianMirror(b, "bookworm-security") + " bookworm-security main",
	}
}

// cpuTime is the user and system time of this process and its waited-for
// children (maintainer scripts, mmdebstrap) so far. On the loaded
// machine the wall time mostly measures the other processes; this does not.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// duK is "du -sk" of paths together (hard links counted once).
func duK(b testing.TB, paths ...string) float64 {
	out, err := exec.Command("du", append([]string{"-skc"}, paths...)...).Output()
	if err != nil {
		b.Fatalf("du %v: %v", paths, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var k float64
	fmt.Sscan(lines[len(lines)-1], &k)
	return k
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// BenchmarkAppPython is issue 16's store-sharing measurement: per
// iteration, into an empty apps directory, app "a" (the Essential set
// and python3-yaml: about 120 packages, 230 MB) cold, then app "b" (the
// Essential set and python3-requests: 128 packages) warm beside it,
// with --no-sync, with and without maintainer scripts. The .debs are in
// the archive cache (a warm-up install). It reports the medians over
// the iterations of the wall and CPU seconds of each (CPU: grey and its
// scripts; wall times on the loaded machine mostly measure the other
// processes), warm/cold ratios, and the disk of the whole apps
// directory (both apps, the store's objects, manifests and blobs) over
// the larger app's root alone, both by "du -sk" (hard links once). Each
// iteration then composes b alone into an empty store (cold-b: what the
// warm store saved b itself, whose maintainer scripts are not a's).
// grey runs as its own process (benchGrey). Needs the host's Debian
// mirror and root.
func BenchmarkAppPython(b *testing.B) {
	testfixture.Root(b)
	src := hostMirrorSources(b)
	root := b.TempDir()
	g := func(args ...string) string {
		b.Helper()
		return benchGrey(b, append(append([]string{"--root", root}, src...), args...)...)
	}
	g("update")
	apps := filepath.Join(root, "var/lib/grey/apps")
	for _, scripts := range []bool{false, true} {
		b.Run(map[bool]string{false: "no-scripts", true: "scripts"}[scripts], func(b *testing.B) {
			install := func(app, pkg string) (wall, cpu time.Duration) {
				args := []string{"app", "install", "--no-sync", "--essential", "--command", "python3"}
				if scripts {
					args = append(args, "--scripts")
				}
				start, c0 := time.Now(), cpuTime()
				out := g(append(args, app, pkg)...)
				wall, cpu = time.Since(start), cpuTime()-c0
				b.Logf("%s: %s (wall %.1fs, cpu %.1fs)", app, strings.TrimSpace(out), wall.Seconds(), cpu.Seconds())
				return wall, cpu
			}
			// Fills the archive cache with both closures.
			install("warmup-a", pythonPair[0])
			install("warmup-b", pythonPair[1])
			var coldW, warmW, coldC, warmC, ratioW, ratioC, disk, coldBW, coldBC []float64
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				if err := os.Rename(apps, filepath.Join(root, fmt.Sprintf("apps-%v-%d", scripts, i))); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				w1, c1 := install("a", pythonPair[0])
				w2, c2 := install("b", pythonPair[1])
				b.StopTimer()
				coldW, warmW = append(coldW, w1.Seconds()), append(warmW, w2.Seconds())
				coldC, warmC = append(coldC, c1.Seconds()), append(warmC, c2.Seconds())
				ratioW, ratioC = append(ratioW, w2.Seconds()/w1.Seconds()), append(ratioC, c2.Seconds()/c1.Seconds())
				ra, rb := filepath.Join(apps, "a/gen/1"), filepath.Join(apps, "b/gen/1")
				larger := max(duK(b, ra), duK(b, rb))
				all := duK(b, apps)
				disk = append(disk, all/larger)
				// b alone into an empty store, untimed by the loop: what
				// the warm store saved b itself (b's own scripts, for
				// one, are not a's).
				if err := os.Rename(apps, filepath.Join(root, fmt.Sprintf("apps-%v-%d-ab", scripts, i))); err != nil {
					b.Fatal(err)
				}
				w3, c3 := install("b", pythonPair[1])
				coldBW, coldBC = append(coldBW, w3.Seconds()), append(coldBC, c3.Seconds())
				b.Logf("iteration %d: cold a %.1fs (cpu %.1fs), warm b %.1fs (cpu %.1fs): %.2fx wall, %.2fx cpu; cold b %.1fs (cpu %.1fs); du -sk apps %v, larger root %v: %.3fx; load %s",
					i, w1.Seconds(), c1.Seconds(), w2.Seconds(), c2.Seconds(), w2.Seconds()/w1.Seconds(), c2.Seconds()/c1.Seconds(), w3.Seconds(), c3.Seconds(), all, larger, all/larger, loadAvg())
				b.StartTimer()
			}
			b.ReportMetric(median(coldBW), "cold-b-s")
			b.ReportMetric(median(coldBC), "cold-b-cpu-s")
			b.ReportMetric(median(coldW), "cold-s")
			b.ReportMetric(median(warmW), "warm-s")
			b.ReportMetric(median(ratioW), "warm/cold")
			b.ReportMetric(median(coldC), "cold-cpu-s")
			b.ReportMetric(median(warmC), "warm-cpu-s")
			b.ReportMetric(median(ratioC), "warm/cold-cpu")
			b.ReportMetric(median(disk), "disk/larger")
		})
	}
}

// BenchmarkAppPythonVersusImage builds app "b"'s closure of
// BenchmarkAppPython (the Essential set and python3-requests, from the
// host's Debian mirror) with "grey image build" (locked, downloads
// cached in its state directory, a directory output; essential: true,
// with and without scripts) and with mmdebstrap --variant=required
// --include=python3-requests (its .debs synced in from a cache
// directory, so neither downloads while timed), reporting wall and CPU
// seconds per build.
func BenchmarkAppPythonVersusImage(b *testing.B) {
	testfixture.Root(b)
	src := hostMirrorSources(b)
	for _, scripts := range []bool{false, true} {
		b.Run(fmt.Sprintf("image-build/scripts=%v", scripts), func(b *testing.B) {
			dir := b.TempDir()
			spec := filepath.Join(dir, "app.yaml")
			text := fmt.Sprintf("sources:\n  - %q\n  - %q\nessential: true\nscripts: %v\npackages: [%s]\nsource-date-epoch: 1767225600\n",
				src[1], src[3], scripts, pythonPair[1])
			if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
				b.Fatal(err)
			}
			state := filepath.Join(dir, "state")
			if err := os.MkdirAll(state, 0o755); err != nil {
				b.Fatal(err)
			}
			build := func(args ...string) {
				var out, errb bytes.Buffer
				code := run(context.Background(), append([]string{"image", "build", "--state-dir", state, spec, "-o"}, args...), strings.NewReader(""), &out, &errb, time.Now)
				if code != 0 {
					b.Fatalf("image build: %d %s %s", code, out.String(), errb.String())
				}
			}
			build(filepath.Join(dir, "warm")) // the lock and the download cache
			var wall, cpu []float64
			for i := 0; b.Loop(); i++ {
				start, c0 := time.Now(), cpuTime()
				build(filepath.Join(dir, fmt.Sprint(i)), "--locked")
				wall, cpu = append(wall, time.Since(start).Seconds()), append(cpu, (cpuTime()-c0).Seconds())
				b.Logf("image build %d: wall %.1fs cpu %.1fs load %s", i, wall[i], cpu[i], loadAvg())
			}
			b.ReportMetric(median(wall), "wall-s")
			b.ReportMetric(median(cpu), "cpu-s")
		})
	}
	b.Run("mmdebstrap-required", func(b *testing.B) {
		mm := testfixture.Tool(b, "mmdebstrap", "mmdebstrap")
		debs := filepath.Join(testfixture.CacheDir(b), "app-bench-debs")
		if err := os.MkdirAll(debs, 0o755); err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		build := func(out string) {
			cmd := exec.Command(mm, "--quiet", "--variant=required", "--include="+pythonPair[1], "--mode=root",
				`--setup-hook=mkdir -p "$1"/var/cache/apt/archives/partial`,
				"--setup-hook=sync-in "+debs+" /var/cache/apt/archives/",
				"--customize-hook=sync-out /var/cache/apt/archives "+debs,
				"bookworm", out,
				"deb "+testfixture.DebianMirror(b, "bookworm")+" bookworm main",
				"deb "+testfixture.DebianMirror(b, "bookworm-security")+" bookworm-security main")
			if o, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("mmdebstrap: %v\n%s", err, o)
			}
		}
		build(filepath.Join(dir, "warm")) // fills the .deb cache
		var wall, cpu []float64
		for i := 0; b.Loop(); i++ {
			start, c0 := time.Now(), cpuTime()
			build(filepath.Join(dir, fmt.Sprint(i)))
			wall, cpu = append(wall, time.Since(start).Seconds()), append(cpu, (cpuTime()-c0).Seconds())
			b.Logf("mmdebstrap %d: wall %.1fs cpu %.1fs load %s", i, wall[i], cpu[i], loadAvg())
		}
		b.ReportMetric(median(wall), "wall-s")
		b.ReportMetric(median(cpu), "cpu-s")
	})
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
