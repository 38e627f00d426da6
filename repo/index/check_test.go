package index

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/testfixture"
)

// agree fails t unless checkStanza decides about st exactly as
// deb.FromStanza does (the decision Build made before checkStanza), with
// the same error, and returns what it found the same.
func agree(t *testing.T, st *control.Stanza) {
	t.Helper()
	agreeWritable(t, st)
	info, err := checkStanza(st)
	p, perr := deb.FromStanza(st)
	if (err == nil) != (perr == nil) {
		t.Fatalf("stanza %q: checkStanza error %v, FromStanza error %v", st.Fields, err, perr)
	}
	if err != nil {
		var fe, pfe *deb.FieldError
		if !errors.As(err, &fe) || !errors.As(perr, &pfe) {
			t.Fatalf("stanza %q: errors %#v and %#v, want *deb.FieldError", st.Fields, err, perr)
		}
		if err.Error() != perr.Error() || fe.Package != pfe.Package || fe.Line != pfe.Line || fe.Field != pfe.Field {
			t.Fatalf("stanza %q: checkStanza error %q, FromStanza error %q", st.Fields, err, perr)
		}
		return
	}
	if info.name != p.Name || info.arch != p.Architecture || info.sha256 != p.SHA256 ||
		info.version != p.Version || info.rawVersion != st.Get("Version") ||
		info.description != st.Get("Description") || info.String() != p.String() ||
		info.provides.String() != p.Provides.String() {
		t.Fatalf("stanza %q: checkStanza found %+v, FromStanza %+v", st.Fields, info, p)
	}
	for _, rel := range info.provides {
		for _, alt := range rel {
			if got := string(appendVersion(nil, alt.Version)); got != alt.Version.String() {
				t.Fatalf("appendVersion(%#v) = %q, want %q", alt.Version, got, alt.Version.String())
			}
		}
	}
}

// agreeWritable fails t unless checkWritable(st) is control.CheckStanza(st).
func agreeWritable(t *testing.T, st *control.Stanza) {
	t.Helper()
	got, want := checkWritable(st), control.CheckStanza(st)
	if (got == nil) != (want == nil) || got != nil && (got.Error() != want.Error() || !errors.Is(got, control.ErrInvalidField)) {
		t.Fatalf("stanza %q: checkWritable %v, control.CheckStanza %v", st.Fields, got, want)
	}
}

// TestCheckWritableAgrees: checkWritable answers as control.CheckStanza on
// stanzas with duplicate names (in any case, early or after 32 fields),
// bad names and values, no fields, and names whose keys collide.
func TestCheckWritableAgrees(t *testing.T) {
	var many strings.Builder
	for i := range 40 {
		fmt.Fprintf(&many, "F%d:v\n", i)
	}
	cases := []string{
		"A:1\nB:2\na:3", "Package:x\nVersion:1\nPACKAGE:y", "Ab:1\nbA:2\nAB:3",
		"Package:x\nVersion: 1\npackage:y", "Package:x\nBad Name:1", "Package:x\n-x:1\nPackage:y",
		"Package:x\nDescription:a\\nb", "Package:x\nDescription:a \\n b", "Package:x\nDescription:a\\n \\n b",
		"Package:x\nDescription:a\\n b\r", "Package:x\nName\x80:1", "Package:x\nV:1 ",
		"Depends:a\nDescription:b\nDepends:c", "Dab:1\nDbb:1\nDcb:1\nDAB:1",
		"",
	}
	for _, c := range cases {
		agreeWritable(t, stanzaOf(strings.ReplaceAll(c, `\n`, "\n")))
	}
	agreeWritable(t, &control.Stanza{})
	// Over 32 fields, with and without a duplicate past the 32nd.
	agreeWritable(t, stanzaOf(strings.TrimSuffix(strings.ReplaceAll(many.String(), `\n`, "\n"), "\n")))
	agreeWritable(t, stanzaOf(strings.ReplaceAll(many.String(), `\n`, "\n")+"f39:dup"))
	// Every pair of 2-letter names, in both cases: keys collide.
	var st control.Stanza
	for _, a := range "abcdefghij" {
		for _, b := range "xyz" {
			st.Fields = append(st.Fields, control.Field{Name: string(a) + string(b), Value: "1"})
		}
	}
	st.Fields = st.Fields[:32]
	agreeWritable(t, &st)
	st.Fields[31].Name = strings.ToUpper(st.Fields[3].Name)
	agreeWritable(t, &st)
}

// stanzaOf builds a stanza field by field, as a caller in memory may: one
// line per field, "Name:Value", with "\\n" standing for a line break in the
// value. Duplicate fields are kept (the Reader refuses them).
func stanzaOf(text string) *control.Stanza {
	st := &control.Stanza{Line: 7}
	for line := range strings.SplitSeq(text, "\n") {
		name, value, _ := strings.Cut(line, ":")
		st.Fields = append(st.Fields, control.Field{Name: name, Value: strings.ReplaceAll(value, `\n`, "\n")})
	}
	return st
}

var checkCases = []string{
	"Package:a\nVersion:1\nArchitecture:all",
	"package:a\nVERSION:1\narchitecture:all\nprovides:x, y (= 1:2-3), x",
	"Version:1\nArchitecture:all",
	"Package:\nVersion:1\nArchitecture:all",
	"Package:a\nArchitecture:all",
	"Package:a\nVersion:1 2\nArchitecture:all",
	"Package:a\nVersion:1\nArchitecture:",
	"Package:a\nVersion:1\nArchitecture:all\nMulti-Arch:sometimes",
	"Package:a\nVersion:1\nArchitecture:all\nMulti-Arch:same",
	"Package:a\nVersion:1\nArchitecture:all\nSource:b",
	"Package:a\nVersion:1\nArchitecture:all\nSource:b (1.0)",
	"Package:a\nVersion:1\nArchitecture:all\nSource:b 1.0",
	"Package:a\nVersion:1\nArchitecture:all\nSource:b (a1)",
	"Package:a\nVersion:1\nArchitecture:all\nSource:b ()",
	"Package:a\nVersion:1\nArchitecture:all\nInstalled-Size:-1",
	"Package:a\nVersion:1\nArchitecture:all\nInstalled-Size:12\nSize:x",
	"Package:a\nVersion:1\nArchitecture:all\nSize:99999999999999999999",
	"Package:a\nVersion:1\nArchitecture:all\nDepends:b (>= 1\nReplaces:c,",
	"Package:a\nVersion:1\nArchitecture:all\nReplaces:c,\nDepends:b (>= 1",
	"Package:a\nVersion:1\nArchitecture:all\nProvides:\nDepends:",
	"Package:a\nVersion:1\nArchitecture:all\nProvides:x (= a1)",
	"Package:a\nVersion:1\nArchitecture:all\nBreaks:x [",
	"Package:a\nVersion:1\nArchitecture:all\nPre-Depends:x <",
	"Package:a\nVersion:1\nArchitecture:all\nRecommends:|\nSuggests:,\nEnhances:-\nConflicts:(",
	"Package:a\nPackage:b\nVersion:1\nVersion:x x\nArchitecture:all",
	"Package:a\nVersion:1\nArchitecture:all\nDescription:short\\n long\\n .",
	"Package:a\nVersion:2:1.0-1\nArchitecture:amd64\nProvides:b (= 0:1:2-3), c (= 1.0), d | e\nSHA256:ABC",
	"Package:a\nVersion:1\nArchitecture:all\nSize:4\nSIZE:x",
}

func TestCheckStanzaAgrees(t *testing.T) {
	for _, c := range checkCases {
		agree(t, stanzaOf(c))
	}
}

// TestCheckStanzaFixture holds checkStanza to FromStanza on every stanza
// of the two small fixture indexes (TestFullCheckStanzaFixture: all three).
func TestCheckStanzaFixture(t *testing.T) { checkFixture(t, testfixture.Indexes[1:]) }

func TestFullCheckStanzaFixture(t *testing.T) {
	testfixture.WholeIndex(t)
	checkFixture(t, testfixture.Indexes)
}

func checkFixture(t *testing.T, indexes []string) {
	root := testfixture.Bookworm(t)
	for _, rel := range indexes {
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		rd := control.NewReader(f)
		n := 0
		for {
			st, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			agree(t, st)
			n++
		}
		rd.Close()
		f.Close()
		if n == 0 {
			t.Errorf("%s: no stanzas", rel)
		}
	}
}

// FuzzCheckStanza: checkStanza agrees with deb.FromStanza on stanzas read
// from text (the way Build gets them) and on stanzas built field by field.
func FuzzCheckStanza(f *testing.F) {
	for _, c := range checkCases {
		f.Add(c)
		f.Add(strings.NewReplacer(":", ": ", `\n`, "\n ").Replace(c))
	}
	f.Add(samplePackages)
	f.Fuzz(func(t *testing.T, text string) {
		agree(t, stanzaOf(text))
		if st, err := control.ParseOne([]byte(text)); err == nil {
			agree(t, st)
		}
		if v, err := version.Parse(text); err == nil {
			if got := string(appendVersion(nil, v)); got != v.String() {
				t.Fatalf("appendVersion(%#v) = %q, want %q", v, got, v.String())
			}
		}
	})
}

// TestDebKey: debKey's ASCII fast path gives what lower-casing with
// strings.ToLower gives, for any SHA256 field.
func TestDebKey(t *testing.T) {
	for _, s := range []string{
		"", "a", strings.Repeat("ab12", 16), strings.Repeat("AB12", 16), strings.Repeat("aB", 32) + "c",
		"ÄBC", "\xff\xfeAB", strings.Repeat("x", 64) + "É",
	} {
		want := uint32(0)
		if s != "" {
			want = max(crc32.Checksum([]byte(strings.ToLower(s)), castagnoli()), 1)
		}
		if got := debKey(s); got != want {
			t.Errorf("debKey(%q) = %#x, want %#x", s, got, want)
		}
	}
}
