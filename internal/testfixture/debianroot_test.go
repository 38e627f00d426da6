package testfixture

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadAptSources(t *testing.T) {
	etc := t.TempDir()
	os.MkdirAll(filepath.Join(etc, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(etc, "sources.list"), []byte("# c\ndeb [arch=amd64 signed-by=/k.gpg] http://a.example/debian/ bookworm main contrib\ndeb-src http://a.example/debian bookworm main\n"), 0o644)
	os.WriteFile(filepath.Join(etc, "sources.list.d", "x.sources"), []byte("Types: deb\nURIs: http://b.example/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n\nTypes: deb-src\nURIs: http://c.example\nSuites: x\nComponents: main\n"), 0o644)
	got, err := ReadAptSources(etc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d sources: %+v", len(got), got)
	}
	if got[0].URI != "http://a.example/debian" || got[0].Suites[0] != "bookworm" || got[0].SignedBy != "/k.gpg" || strings.Join(got[0].Components, " ") != "main contrib" {
		t.Errorf("one-line source: %+v", got[0])
	}
	if got[1].URI != "http://b.example/debian-security" || got[1].Suites[0] != "bookworm-security" || got[1].SignedBy != "/usr/share/keyrings/k.gpg" {
		t.Errorf("deb822 source: %+v", got[1])
	}
}

func TestDebianRootMinbase(t *testing.T) {
	root := DebianRoot(t, RootSpec{})
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${db:Status-Abbrev}${Package}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	n := strings.Count(string(out), "ii ")
	if n < 80 {
		t.Fatalf("minbase root has %d packages ii, want a real minbase (about 96)", n)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/apt-get")); err != nil {
		t.Fatalf("minbase root lacks apt: %v", err)
	}
}
