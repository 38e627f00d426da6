package sources

import (
	"net/url"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// aptInReleases runs the real apt-get on a sources.list and a
// sources.list.d and returns the InRelease URLs it would fetch, normalised,
// or the error lines it printed.
func aptInReleases(t *testing.T, aptGet, root string) (urls, errs []string) {
	t.Helper()
	state := t.TempDir()
	args := []string{
		"-o", "Dir::Etc::SourceList=" + filepath.Join(root, ListFile),
		"-o", "Dir::Etc::SourceParts=" + filepath.Join(root, ListDir),
		"-o", "Dir::State=" + state, "-o", "Dir::Cache=" + state,
		"-o", "Dir::State::Lists=" + state, "-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures::=amd64", "-o", "Debug::NoLocking=1",
		"--print-uris", "update",
	}
	out, _ := exec.Command(aptGet, args...).CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "E:") {
			errs = append(errs, line)
		}
		if !strings.HasPrefix(line, "'") {
			continue
		}
		raw, _, _ := strings.Cut(line[1:], "'")
		if !strings.HasSuffix(raw, "/InRelease") {
			continue
		}
		urls = append(urls, normURL(t, raw))
	}
	slices.Sort(urls)
	return slices.Compact(urls), errs
}

func normURL(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("apt printed %q: %v", raw, err)
	}
	u.Path = path.Clean(u.Path)
	return u.String()
}

// TestAptAgrees gives the same configuration to apt and to Load and expects
// the same InRelease files to be fetched, deb-src and disabled stanzas
// included, and the same lines to be refused.
func TestAptAgrees(t *testing.T) {
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	root := t.TempDir()
	testfixture.WriteFiles(t, root, map[string]string{
		ListFile: `# the examples of sources.list(5), and more
deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware
deb [ arch=amd64,armel ] http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian bookworm main
deb http://ftp.tlh.debian.org/universe unstable/binary-$(ARCH)/
deb [trusted=yes] file:/srv/flat ./
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg check-valid-until=no] https://deb.debian.org/debian-security bookworm-security main # comment
deb	http://a.example:8080/x/	s%20x	main
deb [ signed-by=/k#1.gpg ] http://h/d s main
`,
		ListDir + "/a.sources": `Types: deb deb-src
URIs: https://a.example/debian
 https://b.example/d
Suites: s1 s2
Components: main

Types: deb
URIs: https://disabled.example/debian
Suites: s
Components: main
Enabled: no

Types: deb
URIs: file:/srv/repo
Suites: sub/
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEYCQjIxYJKwYBBAHaRw8BAQdAD/P5Nvvnvk66SxBBHDbhRml9ORg1WV5CvzKY
 =IE0r
 -----END PGP PUBLIC KEY BLOCK-----
`,
		ListDir + "/b.list":         "deb http://b.list.example/debian s main\n",
		ListDir + "/ignored.list~":  "this is not read\n",
		ListDir + "/ignored.bak":    "this is not read\n",
		ListDir + "/bad name.list":  "this is not read\n",
		ListDir + "/x.list.disable": "this is not read\n",
	})
	want, errs := aptInReleases(t, aptGet, root)
	if len(errs) > 0 || len(want) == 0 {
		t.Fatalf("apt refused the configuration: %q", errs)
	}
	srcs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		u := s.DistURL("amd64")
		u.Path += "InRelease"
		got = append(got, normURL(t, u.String()))
	}
	slices.Sort(got)
	got = slices.Compact(got)
	t.Logf("%d InRelease URLs: %q", len(want), want)
	if !slices.Equal(got, want) {
		t.Errorf("InRelease URLs differ from apt's\n got %q\napt  %q", got, want)
	}

	// Lines both refuse.
	for _, line := range []string{
		"deb",
		"deb http://h/d",
		"deb http://h/d bookworm",
		"deb http://h/d ./ main",
		"rpm http://h/d s main",
		"deb [arch] http://h/d s main",
		"deb [=xy] http://h/d s main",
		"deb [arch=amd64 http://h/d s main",
		"deb [arch=amd64",
		"deb http://h/d [s main",
		"deb /srv/debian s main",
	} {
		r := t.TempDir()
		testfixture.WriteFiles(t, r, map[string]string{ListFile: line + "\n"})
		if _, errs := aptInReleases(t, aptGet, r); len(errs) == 0 {
			t.Errorf("apt accepts %q", line)
		}
		if _, err := Load(r); err == nil {
			t.Errorf("grey accepts %q, apt does not", line)
		}
	}
}
