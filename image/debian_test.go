package image

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// pathMeta is what the comparison with mmdebstrap looks at: the type and
// permission bits (setuid, setgid and sticky included), owner and group.
type pathMeta struct {
	mode     fs.FileMode
	uid, gid uint32
}

func (m pathMeta) String() string { return fmt.Sprintf("%v %d:%d", m.mode, m.uid, m.gid) }

// treeMeta returns the metadata of every path under root but those skip
// matches, by path relative to root ("etc/hostname").
func treeMeta(t *testing.T, root string, skip func(rel string) bool) map[string]pathMeta {
	t.Helper()
	out := map[string]pathMeta{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if skip(rel) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		out[rel] = pathMeta{mode: fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), uid: st.Uid, gid: st.Gid}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mmdebstrapOwn are the paths that are not compared: mmdebstrap's own
// files (its /dev nodes, hostname, resolv.conf, fstab, apt sources and
// configuration), the state of the apt run that installed mmdebstrap's
// packages (apt's cache and lists, whose partial directories apt chowns
// to _apt as it runs), and grey's own database. dpkg's database is
// compared.
func mmdebstrapOwn(rel string) bool {
	for _, p := range []string{
		"dev", "var/lib/grey",
		"etc/hostname", "etc/resolv.conf", "etc/fstab", "etc/apt/sources.list", "etc/apt/apt.conf.d/99mmdebstrap",
		"var/cache/apt", "var/lib/apt",
	} {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// TestDebianImageMatchesMmdebstrap is issue 11's image acceptance: grey
// image build with essential and scripts against the host's Debian mirror,
// and mmdebstrap --variant=essential of the same package set, give the
// same packages and, path by path, the same type, mode, owner and group
// (mmdebstrap's own files and the package managers' state aside). It
// needs root, mmdebstrap and the mirror (skips, or fails under CI).
func TestDebianImageMatchesMmdebstrap(t *testing.T) {
	testfixture.Root(t)
	mirror := testfixture.DebianMirror(t, "bookworm")
	const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
	if _, err := os.Stat(keyring); err != nil {
		testfixture.Missing(t, "Debian's archive keyring "+keyring+" (package debian-archive-keyring)")
	}
	dir := t.TempDir()
	specPath := filepath.Join(dir, "essential.yaml")
	spec := fmt.Sprintf("sources:\n  - \"deb [signed-by=%s] %s bookworm main\"\narchitecture: amd64\nessential: true\nscripts: true\nrecommends: false\nsource-date-epoch: 1700000000\n", keyring, mirror)
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "root")
	state := filepath.Join(testfixture.CacheDir(t), "image-state")
	start := time.Now()
	var log strings.Builder
	res, err := Build(context.Background(), s, BuildOptions{Output: Output{Kind: Directory, Path: out}, StateDir: state, Now: time.Now, ScriptOutput: &log})
	if err != nil {
		t.Fatalf("grey image build: %v\nscripts said:\n%s", err, log.String())
	}
	t.Logf("grey image build: %d packages in %s", len(res.Packages), time.Since(start).Round(time.Second))

	var names []string
	for _, p := range res.Packages {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	mm := testfixture.DebianRoot(t, testfixture.RootSpec{Variant: "essential", Include: names,
		Extra: []string{"--aptopt=APT::Install-Recommends false"}})

	// The same package set.
	q, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(mm, "var/lib/dpkg"), "-W", "-f", "${db:Status-Abbrev} ${Package}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var mmNames []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(q)), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "ii" {
			mmNames = append(mmNames, f[1])
		}
	}
	slices.Sort(mmNames)
	if !slices.Equal(names, mmNames) {
		t.Errorf("package sets differ:\ngrey only: %v\nmmdebstrap only: %v", minus(names, mmNames), minus(mmNames, names))
	}
	// grey's dpkg database agrees with its lock.
	if b, err := exec.Command("dpkg", "--root="+out, "--audit").CombinedOutput(); err != nil || len(b) != 0 {
		t.Errorf("dpkg --audit in grey's image: %v\n%s", err, b)
	}

	// Every path in both: the same type, mode, owner and group.
	gm := treeMeta(t, out, mmdebstrapOwn)
	mmm := treeMeta(t, mm, mmdebstrapOwn)
	var diffs, onlyGrey, onlyMM []string
	for p, g := range gm {
		m, ok := mmm[p]
		if !ok {
			onlyGrey = append(onlyGrey, p)
			continue
		}
		if g != m {
			diffs = append(diffs, fmt.Sprintf("/%s: grey %v, mmdebstrap %v", p, g, m))
		}
	}
	for p := range mmm {
		if _, ok := gm[p]; !ok {
			onlyMM = append(onlyMM, p)
		}
	}
	slices.Sort(diffs)
	slices.Sort(onlyGrey)
	slices.Sort(onlyMM)
	t.Logf("%d paths compared; %d only in grey's image, %d only in mmdebstrap's", len(gm)-len(onlyGrey), len(onlyGrey), len(onlyMM))
	if len(onlyGrey) > 0 {
		t.Logf("only in grey's image: %s", strings.Join(onlyGrey[:min(len(onlyGrey), 40)], " "))
	}
	if len(onlyMM) > 0 {
		t.Logf("only in mmdebstrap's: %s", strings.Join(onlyMM[:min(len(onlyMM), 40)], " "))
	}
	if n := len(gm) - len(onlyGrey); n < 5000 {
		t.Errorf("only %d paths compared: the comparison says little", n)
	}
	if len(diffs) > 0 {
		t.Errorf("%d paths differ:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	// The findings of issue 11, by name.
	for p, want := range map[string]string{
		"usr/bin/chage":        "-rwxr-sr-x 0:42",
		"usr/bin/expiry":       "-rwxr-sr-x 0:42",
		"usr/sbin/unix_chkpwd": "-rwxr-sr-x 0:42",
		"var/local":            "drwxrwsr-x 0:50",
	} {
		if g, ok := gm[p]; !ok || fmt.Sprintf("%v %d:%d", fsModeLS(g.mode), g.uid, g.gid) != want {
			t.Errorf("/%s in grey's image: %v (present %v), want %s", p, g, ok, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "dev/null")); err == nil {
		t.Errorf("/dev/null left in grey's image")
	}
}

// fsModeLS writes a mode as ls -l does ("-rwxr-sr-x").
func fsModeLS(m fs.FileMode) string {
	b := []byte("?rwxrwxrwx")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m.IsRegular():
		b[0] = '-'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	if m&fs.ModeSetuid != 0 {
		b[3] = map[bool]byte{true: 's', false: 'S'}[m&0o100 != 0]
	}
	if m&fs.ModeSetgid != 0 {
		b[6] = map[bool]byte{true: 's', false: 'S'}[m&0o010 != 0]
	}
	if m&fs.ModeSticky != 0 {
		b[9] = map[bool]byte{true: 't', false: 'T'}[m&0o001 != 0]
	}
	return string(b)
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
