package sources

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

func checkID(t *testing.T, s *Source) {
	t.Helper()
	id := s.ID()
	if id == "" || id == "." || id == ".." || len(id) > maxIDLen || strings.ContainsAny(id, "/\x00") {
		t.Fatalf("ID %q of %q is not a safe file name", id, s.String())
	}
}

// fixtureLines are one-line sources for the real fixture, as apt accepts
// them, and the examples of sources.list(5).
func fixtureLines(f *testing.F) []string {
	dir := testfixture.Bookworm(f)
	return []string{
		"deb [signed-by=" + dir + "/debian-archive-keyring.gpg] file://" + dir + "/debian bookworm main",
		"deb [signed-by=" + dir + "/debian-archive-keyring.gpg] file://" + dir + "/debian bookworm-updates main",
		"deb [signed-by=" + dir + "/debian-archive-keyring.gpg arch=amd64] file:" + dir + "/debian-security bookworm-security main",
		"deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware",
		"deb [ arch=amd64,armel ] http://deb.debian.org/debian bookworm main",
		"deb http://ftp.tlh.debian.org/universe unstable/binary-$(ARCH)/",
		"deb-src file:/home/apt/debian unstable main # comment",
		`deb [trusted=yes x="a b"] "http://h/a b" s%20x main`,
		"deb [arch+=i386 check-valid-until=no valid-until-max=60 signed-by=/k#1.gpg] http://[::1]:8080/d s main",
	}
}

// FuzzParse checks that Parse never panics, fails only with *Error, and
// that every source it returns prints to a line that reads back equal.
func FuzzParse(f *testing.F) {
	for _, l := range fixtureLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := Parse(line)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *Error", err)
			}
			return
		}
		checkID(t, s)
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("String() %q does not parse: %v", s.String(), err)
		}
		if !reflect.DeepEqual(viewOf(again), viewOf(s)) {
			t.Fatalf("String() %q reads back as\n%+v, not\n%+v", s.String(), viewOf(again), viewOf(s))
		}
		if again.ID() != s.ID() {
			t.Fatalf("ID changed over String(): %q, %q", s.ID(), again.ID())
		}
	})
}

// FuzzParseSources checks the deb822 reader the same way, and that each
// source survives both String and Stanza.
func FuzzParseSources(f *testing.F) {
	for _, l := range fixtureLines(f) {
		if s, err := Parse(l); err == nil {
			var buf bytes.Buffer
			if err := control.WriteStanza(&buf, s.Stanza()); err == nil {
				f.Add(buf.Bytes())
			}
		}
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "seed.sources")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srcs, err := ParseSources(bytes.NewReader(data), "fuzz.sources")
		if err != nil {
			var se *Error
			var ce *control.SyntaxError
			if !errors.As(err, &se) && !errors.As(err, &ce) && !strings.Contains(err.Error(), "fuzz.sources") {
				t.Fatalf("error %v does not locate the problem", err)
			}
			return
		}
		for _, s := range srcs {
			checkID(t, s)
			again, err := Parse(s.String())
			if err != nil || !reflect.DeepEqual(viewOf(again), viewOf(s)) {
				t.Fatalf("String() %q reads back as %+v, %v", s.String(), again, err)
			}
			back, err := FromStanza(s.Stanza())
			if err != nil || len(back) != 1 || !reflect.DeepEqual(viewOf(back[0]), viewOf(s)) {
				t.Fatalf("Stanza() %q reads back as %+v, %v", s.Stanza().Fields, back, err)
			}
		}
	})
}
