package transaction

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
)

// bigDpkgRoot writes a dpkg database of n packages taken from the bookworm
// fixture's index (their real control fields), each with a list of 100
// paths (20 directories, 80 files with md5sums), as a desktop system's
// is: about 1,500 packages and 150,000 paths.
func bigDpkgRoot(b *testing.B, n int) string {
	b.Helper()
	fx := testfixture.Bookworm(b)
	f, err := os.Open(filepath.Join(fx, "debian/dists/bookworm/main/binary-amd64/Packages.xz"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := control.NewReader(f)
	defer r.Close()
	root := b.TempDir()
	info := filepath.Join(root, "var/lib/dpkg/info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		b.Fatal(err)
	}
	var status strings.Builder
	seen := map[string]bool{}
	for len(seen) < n {
		st, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		name := st.Get("Package")
		if seen[name] {
			continue
		}
		seen[name] = true
		out := &control.Stanza{}
		for _, fl := range st.Fields {
			switch fl.Name {
			case "Filename", "Size", "MD5sum", "SHA256", "Description-md5", "Tag":
				continue
			}
			out.Fields = append(out.Fields, fl)
			if fl.Name == "Package" {
				out.Fields = append(out.Fields, control.Field{Name: "Status", Value: "install ok installed"})
			}
		}
		raw, err := control.AppendStanza(nil, out)
		if err != nil {
			b.Fatal(err)
		}
		status.Write(raw)
		status.WriteByte('\n')
		infoName := name
		if st.Get("Multi-Arch") == "same" {
			infoName += ":" + st.Get("Architecture")
		}
		var list, sums strings.Builder
		list.WriteString("/.\n/usr\n/usr/share\n/usr/share/doc\n")
		for d := 0; d < 17; d++ {
			fmt.Fprintf(&list, "/usr/share/%s-%d\n", name, d)
		}
		for i := 0; i < 80; i++ {
			p := fmt.Sprintf("usr/share/%s-%d/file%d", name, i%17, i)
			fmt.Fprintf(&list, "/%s\n", p)
			sum := md5.Sum([]byte(p))
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), p)
		}
		for ext, data := range map[string]string{"list": list.String(), "md5sums": sums.String(), "postinst": "#!/bin/sh\nexit 0\n"} {
			if err := os.WriteFile(filepath.Join(info, infoName+"."+ext), []byte(data), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return root
}

// BenchmarkAdopt1500 is issue 11's adoption benchmark: a fresh grey
// database adopts a 1,500-package dpkg database (status, lists, md5sums,
// the info files into the content store), one history entry. The
// dpkg-query metrics are dpkg-query -W (the status alone) and with
// ${db-fsys:Files} (status and every list) on the same admin dir.
func BenchmarkAdopt1500(b *testing.B) {
	b.Run("history", func(b *testing.B) { benchAdopt(b, false) })
	b.Run("no-snapshots", func(b *testing.B) { benchAdopt(b, true) })
}

func benchAdopt(b *testing.B, noSnapshots bool) {
	root := bigDpkgRoot(b, benchAdoptN())
	grey := filepath.Join(root, "var/lib/grey")
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.RemoveAll(grey); err != nil {
			b.Fatal(err)
		}
		db, err := pkgdb.Open(root, pkgdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		b.StartTimer()
		res, err := SyncHost(root, db, SyncOptions{NoSnapshots: noSnapshots})
		b.StopTimer()
		cpu += cpuTime() - c0
		if err != nil || len(res.Added) != benchAdoptN() {
			b.Fatalf("adopted %v: %v", res, err)
		}
		db.Close()
		b.StartTimer()
	}
	b.StopTimer()
	// The CPU time (user and system) is what a loaded machine does not
	// inflate; the comparison uses it.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	if q, err := exec.LookPath("dpkg-query"); err == nil {
		admin := "--admindir=" + filepath.Join(root, "var/lib/dpkg")
		for _, m := range []struct{ unit, format string }{
			{"dpkg-query-W-ns", "${Package} ${Version}\n"},
			{"dpkg-query-files-ns", "${Package} ${db-fsys:Files}\n"},
		} {
			best, bestCPU := time.Duration(1<<62), time.Duration(1<<62)
			for k := 0; k < 5; k++ {
				start := time.Now()
				cmd := exec.Command(q, admin, "-W", "-f", m.format)
				cmd.Stdout = io.Discard
				if err := cmd.Run(); err != nil {
					b.Fatalf("dpkg-query: %v", err)
				}
				best = min(best, time.Since(start))
				bestCPU = min(bestCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			}
			b.ReportMetric(float64(best.Nanoseconds()), m.unit)
			b.ReportMetric(float64(bestCPU.Nanoseconds()), strings.Replace(m.unit, "-ns", "-cpu-ns", 1))
		}
	}
}

// benchAdoptN is 1500, or GREY_BENCH_ADOPT_N for profiling smaller runs.
func benchAdoptN() int {
	n := 1500
	if s := os.Getenv("GREY_BENCH_ADOPT_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	return n
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
