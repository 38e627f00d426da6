package deb

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/internal/testfixture"
)

func TestFromStanza(t *testing.T) {
	s, err := control.ParseOne([]byte(`Package: busybox
Source: busybox (1:1.35.0-4+deb12u1)
Version: 1:1.35.0-4+deb12u1+b1
Installed-Size: 1234
Maintainer: Debian Install System Team <debian-boot@lists.debian.org>
Architecture: amd64
Multi-Arch: foreign
Essential: yes
Depends: libc6 (>= 2.34)
Pre-Depends: dpkg (>= 1.19) | foo:any
Provides: sh
Filename: pool/main/b/busybox/busybox_1.35.0-4+deb12u1+b1_amd64.deb
Size: 456
SHA256: abc
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := FromStanza(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != "busybox_1:1.35.0-4+deb12u1+b1_amd64" {
		t.Errorf("String = %s", p)
	}
	if p.Source != "busybox" || p.SourceVersion.String() != "1:1.35.0-4+deb12u1" {
		t.Errorf("source = %s %s", p.Source, p.SourceVersion)
	}
	if !p.Essential || p.MultiArch != MultiArchForeign || p.InstalledSize != 1234 || p.Size != 456 {
		t.Errorf("fields = %+v", p)
	}
	if p.PreDepends.String() != "dpkg (>= 1.19) | foo:any" || p.Provides.String() != "sh" {
		t.Errorf("relations = %s / %s", p.PreDepends, p.Provides)
	}
}

func TestFromStanzaErrors(t *testing.T) {
	for _, tc := range []struct{ text, field string }{
		{"Version: 1\nArchitecture: all\n", "Package"},
		{"Package: a\nArchitecture: all\n", "Version"},
		{"Package: a\nVersion: x\nArchitecture: all\n", "Version"},
		{"Package: a\nVersion: 1\n", "Architecture"},
		{"Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>= )\n", "Depends"},
		{"Package: a\nVersion: 1\nArchitecture: all\nMulti-Arch: sometimes\n", "Multi-Arch"},
		{"Package: a\nVersion: 1\nArchitecture: all\nInstalled-Size: -3\n", "Installed-Size"},
		{"Package: a\nVersion: 1\nArchitecture: all\nSource: b 1.0\n", "Source"},
	} {
		s, err := control.ParseOne([]byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		_, err = FromStanza(s)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%q: err = %v, want a FieldError on %s", tc.text, err, tc.field)
		}
	}
	s, _ := control.ParseOne([]byte("Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>= )\n"))
	_, err := FromStanza(s)
	var se *relation.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("FieldError does not unwrap to the relation error: %v", err)
	}
}

// TestFullFixture decodes every stanza of the fixture's three indexes.
func TestFullFixture(t *testing.T) {
	testfixture.WholeIndex(t)
	decodeFixture(t, testfixture.Indexes, 66506)
}

// TestFixtureSmall decodes the two small indexes, under -race too.
func TestFixtureSmall(t *testing.T) {
	decodeFixture(t, testfixture.Indexes[1:], 38+3028)
}

func decodeFixture(t *testing.T, indexes []string, want int) {
	root := testfixture.Bookworm(t)
	n := 0
	for _, rel := range indexes {
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		r := control.NewReaderName(f, rel)
		for {
			s, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := FromStanza(s); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			n++
		}
		f.Close()
	}
	if n != want {
		t.Errorf("decoded %d packages, want %d", n, want)
	}
}

func TestArchSatisfies(t *testing.T) {
	pkg := func(arch string, ma MultiArch) *Package {
		return &Package{Name: "q", Architecture: arch, MultiArch: ma}
	}
	pv := func(qual string) *relation.Possibility { return &relation.Possibility{Name: "q", ArchQual: qual} }
	tests := []struct {
		name     string
		p        *Package
		qual     string
		from     string
		conflict bool
		want     bool
	}{
		{"same arch", pkg("amd64", MultiArchNo), "", "amd64", false, true},
		{"other arch", pkg("i386", MultiArchNo), "", "amd64", false, false},
		{"all counts as native", pkg("all", MultiArchNo), "", "amd64", false, true},
		{"foreign from any arch", pkg("i386", MultiArchForeign), "", "amd64", false, true},
		{":any needs allowed", pkg("amd64", MultiArchNo), "any", "amd64", false, false},
		{":any allowed other arch", pkg("i386", MultiArchAllowed), "any", "amd64", false, true},
		{":any foreign", pkg("amd64", MultiArchForeign), "any", "amd64", false, true},
		{":native", pkg("amd64", MultiArchSame), "native", "i386", false, true},
		{":native other", pkg("i386", MultiArchSame), "native", "i386", false, false},
		{":i386", pkg("i386", MultiArchSame), "i386", "amd64", false, true},
		{":i386 wrong", pkg("amd64", MultiArchSame), "i386", "amd64", false, false},
		{"conflict any arch", pkg("i386", MultiArchNo), "", "amd64", true, true},
		{"conflict :any", pkg("i386", MultiArchNo), "any", "amd64", true, true},
		{"conflict :i386 on amd64", pkg("amd64", MultiArchNo), "i386", "amd64", true, false},
	}
	for _, tt := range tests {
		if got := ArchSatisfies(tt.p, pv(tt.qual), tt.from, "amd64", tt.conflict); got != tt.want {
			t.Errorf("%s: ArchSatisfies = %v, want %v", tt.name, got, tt.want)
		}
	}
}
