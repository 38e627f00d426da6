package testfixture

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AptSource is one repository line of the host's apt sources: the archive
// that tests build real roots from.
type AptSource struct {
	URI        string
	Suites     []string
	Components []string
	SignedBy   string
}

// DebianSources returns the host's apt sources (deb822 files in
// /etc/apt/sources.list.d/*.sources and one-line entries in
// /etc/apt/sources.list and sources.list.d/*.list), in file order. The
// mirror's host name is never written into the repository: tests read it
// from here at run time. It skips (fails under CI) when there are none.
func DebianSources(t testing.TB) []AptSource {
	t.Helper()
	srcs, err := ReadAptSources("/etc/apt")
	if err != nil || len(srcs) == 0 {
		Missing(t, fmt.Sprintf("a Debian mirror in the host's apt sources (/etc/apt/sources.list*: %v)", err))
	}
	return srcs
}

// DebianMirror returns the URI of the host's apt source that carries the
// suite (such as "bookworm" or "bookworm-security").
func DebianMirror(t testing.TB, suite string) string {
	t.Helper()
	for _, s := range DebianSources(t) {
		for _, su := range s.Suites {
			if su == suite {
				return s.URI
			}
		}
	}
	Missing(t, "a source for suite "+suite+" in the host's apt sources")
	return ""
}

// ReadAptSources parses the apt sources under etc (normally /etc/apt). Only
// "deb" entries are returned.
func ReadAptSources(etc string) ([]AptSource, error) {
	var out []AptSource
	files := []string{filepath.Join(etc, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(etc, "sources.list.d", "*"))
	sort.Strings(more)
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(f, ".sources"):
			out = append(out, parseDeb822Sources(string(b))...)
		case strings.HasSuffix(f, ".list") || filepath.Base(f) == "sources.list":
			out = append(out, parseOneLineSources(string(b))...)
		}
	}
	return out, nil
}

func parseDeb822Sources(text string) []AptSource {
	var out []AptSource
	for _, para := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(para))
		var last string
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			}
			if line[0] == ' ' || line[0] == '\t' {
				fields[last] += " " + strings.TrimSpace(line)
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || fields["enabled"] == "no" {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			out = append(out, AptSource{
				URI:        strings.TrimSuffix(uri, "/"),
				Suites:     strings.Fields(fields["suites"]),
				Components: strings.Fields(fields["components"]),
				SignedBy:   fields["signed-by"],
			})
		}
	}
	return out
}

func parseOneLineSources(text string) []AptSource {
	var out []AptSource
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		src := AptSource{}
		i := 1
		if strings.HasPrefix(f[1], "[") {
			for ; i < len(f); i++ {
				opt := strings.Trim(f[i], "[]")
				if v, ok := strings.CutPrefix(opt, "signed-by="); ok {
					src.SignedBy = v
				}
				if strings.HasSuffix(f[i], "]") {
					i++
					break
				}
			}
		}
		if i+1 >= len(f) {
			continue
		}
		src.URI = strings.TrimSuffix(f[i], "/")
		src.Suites = []string{f[i+1]}
		src.Components = f[i+2:]
		out = append(out, src)
	}
	return out
}

// RootSpec says what real Debian root to build with mmdebstrap.
type RootSpec struct {
	// Variant is mmdebstrap's --variant (extract, essential, minbase,
	// apt, required, ...); "" means minbase.
	Variant string
	// Suite is the release to build; "" means bookworm.
	Suite string
	// Include lists extra packages (mmdebstrap --include).
	Include []string
	// Extra are more mmdebstrap arguments (for example
	// "--aptopt=APT::Install-Recommends false" or a hook); they are part
	// of the cache key.
	Extra []string
	// Mirrors are the source lines for mmdebstrap, as it takes them
	// ("deb URI SUITE main"); empty means the host's source for Suite.
	Mirrors []string
}

// CacheDir is where tests keep what they download between runs, outside the
// repository: $GREY_TEST_CACHE, else /var/cache/grey-test for root, else the
// user's cache directory.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GREY_TEST_CACHE")
	if dir == "" && os.Geteuid() == 0 {
		dir = "/var/cache/grey-test"
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("test cache: %v", err)
		}
		dir = filepath.Join(base, "grey-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("test cache %s: %v", dir, err)
	}
	return dir
}

// DebianRootTar returns the path of a tarball of the root spec describes,
// built by mmdebstrap from the host's Debian mirror on first use and cached
// (with the .debs it downloaded) under CacheDir. It needs root, mmdebstrap
// and the mirror; it skips (fails under CI) without them. Concurrent test
// processes build a given spec once.
func DebianRootTar(t testing.TB, spec RootSpec) string {
	t.Helper()
	Root(t)
	mm := Tool(t, "mmdebstrap", "mmdebstrap")
	if spec.Variant == "" {
		spec.Variant = "minbase"
	}
	if spec.Suite == "" {
		spec.Suite = "bookworm"
	}
	mirrors := spec.Mirrors
	if len(mirrors) == 0 {
		mirrors = []string{"deb " + DebianMirror(t, spec.Suite) + " " + spec.Suite + " main"}
	}
	args := []string{"--variant=" + spec.Variant, "--skip=cleanup/apt", "--mode=root", "--format=tar"}
	if len(spec.Include) > 0 {
		args = append(args, "--include="+strings.Join(spec.Include, ","))
	}
	args = append(args, spec.Extra...)
	key := sha256.Sum256([]byte(strings.Join(append(append([]string{}, args...), mirrors...), "\x00")))
	cache := CacheDir(t)
	tarPath := filepath.Join(cache, "root-"+spec.Variant+"-"+hex.EncodeToString(key[:8])+".tar")

	lock, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("test cache lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("test cache lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(tarPath); err == nil {
		return tarPath
	}

	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		t.Fatalf("test cache: %v", err)
	}
	tmp := tarPath + ".tmp"
	full := append([]string{}, args...)
	full = append(full,
		`--setup-hook=mkdir -p "$1"/var/cache/apt/archives/partial`,
		"--setup-hook=sync-in "+debs+" /var/cache/apt/archives/",
		"--customize-hook=sync-out /var/cache/apt/archives "+debs,
		spec.Suite, tmp)
	full = append(full, mirrors...)
	start := time.Now()
	cmd := exec.Command(mm, full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		if os.Getenv("CI") == "true" {
			t.Fatalf("mmdebstrap %s: %v\n%s", strings.Join(full, " "), err, out)
		}
		t.Skipf("skipped: mmdebstrap could not build a %s root from the host's Debian mirror (%v); its output:\n%s", spec.Variant, err, tail(out, 2000))
	}
	if err := os.Rename(tmp, tarPath); err != nil {
		t.Fatalf("test cache: %v", err)
	}
	t.Logf("built %s with mmdebstrap in %s", tarPath, time.Since(start).Round(time.Second))
	return tarPath
}

// DebianRoot returns a fresh directory (removed when the test ends) holding
// a copy of the real Debian root spec describes: made by mmdebstrap, so by
// dpkg, with dpkg's and apt's databases as a real system has them.
func DebianRoot(t testing.TB, spec RootSpec) string {
	t.Helper()
	tarPath := DebianRootTar(t, spec)
	dir := t.TempDir()
	out, err := exec.Command("tar", "-C", dir, "--numeric-owner", "-xpf", tarPath).CombinedOutput()
	if err != nil {
		t.Fatalf("extract %s: %v\n%s", tarPath, err, out)
	}
	return dir
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
