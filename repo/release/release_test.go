package release

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/trust"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixtureFiles = []string{
	"debian/dists/bookworm/InRelease",
	"debian/dists/bookworm-updates/InRelease",
	"debian-security/dists/bookworm-security/InRelease",
}

// signedText returns the verified text of a fixture InRelease.
func signedText(t testing.TB, dir, name string) []byte {
	t.Helper()
	kr, err := trust.LoadKeyring(filepath.Join(dir, "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := kr.VerifyClearsigned(data, testfixture.Clock)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// summary is what the golden file records of a parsed Release.
type summary struct {
	Origin, Label, Suite, Codename, Version string
	Date, ValidUntil                        string
	Architectures, Components               []string
	AcquireByHash, NoSupportArchAll         bool
	MD5Sum, SHA256                          int
	MainAmd64                               File
}

func TestFixtureGolden(t *testing.T) {
	dir := testfixture.Bookworm(t)
	var got []summary
	for _, f := range fixtureFiles {
		r, err := Parse(signedText(t, dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		main, ok := r.Lookup("main/binary-amd64/Packages.xz")
		if !ok {
			t.Fatalf("%s: no main/binary-amd64/Packages.xz", f)
		}
		vu := ""
		if !r.ValidUntil.IsZero() {
			vu = r.ValidUntil.Format(time.RFC3339)
		}
		got = append(got, summary{r.Origin, r.Label, r.Suite, r.Codename, r.Version,
			r.Date.Format(time.RFC3339), vu, r.Architectures, r.Components,
			r.AcquireByHash, r.NoSupportArchAll, len(r.MD5Sum), len(r.SHA256), main})
	}
	out, _ := json.MarshalIndent(got, "", "  ")
	golden := filepath.Join("testdata", "fixture.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(want)) != string(out) {
		t.Fatalf("parsed fixture differs from %s (run with -update to accept):\n%s", golden, out)
	}
	// The README's numbers, independent of the golden file.
	if got[0].MainAmd64.Size != 8790396 || got[0].MainAmd64.Hash != "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5" {
		t.Fatalf("bookworm main Packages.xz = %+v", got[0].MainAmd64)
	}
}

const minimal = "Suite: stable\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n " +
	"9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5 12 main/binary-amd64/Packages\n"

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, text, field string
	}{
		{"no date", "Suite: stable\nSHA256:\n", "Date"},
		{"bad date", strings.Replace(minimal, "Sat, 11 Jul 2026", "11/07/2026", 1), "Date"},
		{"foreign zone", strings.Replace(minimal, "UTC", "EST", 1), "Date"},
		{"bad valid-until", minimal + "Valid-Until: soon\n", "Valid-Until"},
		{"no sha256", "Date: Sat, 11 Jul 2026 10:16:37 UTC\nMD5Sum:\n", "SHA256"},
		{"short hash", strings.Replace(minimal, "9e0b5a", "", 1), "SHA256"},
		{"bad size", strings.Replace(minimal, " 12 ", " -1 ", 1), "SHA256"},
		{"two fields", strings.Replace(minimal, " 12 ", " ", 1), "SHA256"},
		{"escaping path", strings.Replace(minimal, "main/binary", "../binary", 1), "SHA256"},
		{"absolute path", strings.Replace(minimal, "main/binary", "/binary", 1), "SHA256"},
		{"duplicate", minimal + " 9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5 12 main/binary-amd64/Packages\n", "SHA256"},
		{"by-hash maybe", minimal + "Acquire-By-Hash: maybe\n", "Acquire-By-Hash"},
		{"multi-line suite", strings.Replace(minimal, "Suite: stable", "Suite: stable\n evil", 1), "Suite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text))
			var e *Error
			if !errors.As(err, &e) || e.Field != c.field {
				t.Fatalf("err = %v, want a problem with %s", err, c.field)
			}
		})
	}
	if _, err := Parse([]byte("Suite: a\n\nSuite: b\n")); err == nil {
		t.Fatal("two stanzas accepted")
	}
	r, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := r.Lookup("main/binary-amd64/Packages"); !ok || f.Size != 12 {
		t.Fatalf("lookup: %+v %v", f, ok)
	}
	if !r.HasArchitecture("riscv64") || r.AcquireByHash || !r.ValidUntil.IsZero() {
		t.Fatalf("defaults wrong: %+v", r)
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2026, 7, 1, 10, 16, 37, 0, time.UTC)
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"Wed, 01 Jul 2026 10:16:37 UTC", true},
		{"Wed, 1 Jul 2026 10:16:37 UTC", true},
		{"Wed, 01 Jul 2026 10:16:37 GMT", true},
		{"Wed, 01 Jul 2026 12:16:37 +0200", true},
		{"01 Jul 2026 10:16:37 UTC", true},
		{"Wednesday, 01-Jul-26 10:16:37 GMT", true},
		{"Wed Jul  1 10:16:37 2026", true},
		{"Wed, 01 Jul 2026 10:16:37 CEST", false},
		{"2026-07-01T10:16:37Z", false},
		{"", false},
	} {
		got, err := ParseDate(c.in)
		if (err == nil) != c.ok || (c.ok && !got.Equal(want)) {
			t.Errorf("ParseDate(%q) = %v, %v", c.in, got, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	dir := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared", "testdata", "debian-bookworm")
	if _, err := os.Stat(dir); err == nil {
		for _, name := range fixtureFiles[1:] {
			f.Add(signedText(f, dir, name))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		if r.Date.IsZero() && !strings.Contains(string(data), "0001") {
			t.Fatalf("accepted without a usable date: %q", data)
		}
		for _, f := range r.SHA256 {
			if !safePath(f.Path) || len(f.Hash) != 64 || f.Size < 0 {
				t.Fatalf("accepted bad entry %+v", f)
			}
			if got, ok := r.Lookup(f.Path); !ok || got != f {
				t.Fatalf("lookup of %s failed", f.Path)
			}
		}
	})
}
