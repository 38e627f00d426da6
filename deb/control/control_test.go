package control

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// f builds an expected field list from name, value pairs.
func f(nv ...string) []Field {
	out := make([]Field, 0, len(nv)/2)
	for i := 0; i < len(nv); i += 2 {
		out = append(out, Field{nv[i], nv[i+1]})
	}
	return out
}

func readAll(t testing.TB, r *Reader) ([]*Stanza, error) {
	t.Helper()
	var all []*Stanza
	for {
		st, err := r.Next()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
		all = append(all, st)
	}
}

func TestParse(t *testing.T) {
	type want struct {
		line   int
		fields []Field
	}
	tests := []struct {
		name string
		in   string
		want []want
	}{
		{"empty input", "", nil},
		{"only blanks and comments", "\n# c\n  \n\t\n#x\n", nil},
		{"one field", "Package: hello\n", []want{{1, f("Package", "hello")}}},
		{"no trailing newline", "A: 1\nB: 2", []want{{1, f("A", "1", "B", "2")}}},
		{"two stanzas, several blank lines", "A: 1\n\n\n\nB: 2\n", []want{{1, f("A", "1")}, {5, f("B", "2")}}},
		{"blank line of spaces and tabs separates", "A: 1\n \t \nB: 2\n", []want{{1, f("A", "1")}, {3, f("B", "2")}}},
		{"description", "Description: short\n long text\n .\n more\n",
			[]want{{1, f("Description", "short\n long text\n .\n more")}}},
		{"value on continuation lines only", "Conffiles:\n /etc/x abc\n /etc/y def\n",
			[]want{{1, f("Conffiles", "\n /etc/x abc\n /etc/y def")}}},
		{"empty first line with blanks", "Conffiles:  \t\n /etc/x abc\n", []want{{1, f("Conffiles", "\n /etc/x abc")}}},
		{"first line blanks trimmed", "A:   x  \t\n", []want{{1, f("A", "x")}}},
		{"first line trailing blanks before continuation", "A: x \n y\n", []want{{1, f("A", "x\n y")}}},
		{"tab continuation", "A: x\n\ty\n", []want{{1, f("A", "x\n\ty")}}},
		{"continuation keeps inner trailing blanks", "A: x\n y  \n z  \n", []want{{1, f("A", "x\n y  \n z")}}},
		{"no space after colon", "A:x\n", []want{{1, f("A", "x")}}},
		{"empty value", "A:\nB: \n", []want{{1, f("A", "", "B", "")}}},
		{"colon in value", "A: b: c\n", []want{{1, f("A", "b: c")}}},
		{"odd but valid name", "X-Foo_Bar.baz+1: v\n", []want{{1, f("X-Foo_Bar.baz+1", "v")}}},
		{"comments skipped", "# top\nA: 1\n# mid\nB: 2\n# end\n\n# between\nC: 3\n",
			[]want{{2, f("A", "1", "B", "2")}, {8, f("C", "3")}}},
		{"comment between continuation lines", "A: x\n y\n# c\n z\nB: 1\n", []want{{1, f("A", "x\n y\n z", "B", "1")}}},
		{"comment after value does not extend it", "A: x\n y\n# c\nB: 1\n", []want{{1, f("A", "x\n y", "B", "1")}}},
		{"hash inside a line is text", "A: x # y\n #z\n", []want{{1, f("A", "x # y\n #z")}}},
		{"CRLF", "A: x\r\n y\r\n z\r\n\r\nB: 2\r\n", []want{{1, f("A", "x\n y\n z")}, {5, f("B", "2")}}},
		{"CRLF single line", "A: x \r\nB:\r\n", []want{{1, f("A", "x", "B", "")}}},
		{"BOM", "\xEF\xBB\xBFA: 1\n", []want{{1, f("A", "1")}}},
		{"BOM then blank lines", "\xEF\xBB\xBF\n\nA: 1", []want{{3, f("A", "1")}}},
		{"lone CR stays in value", "A: x\ry\n", []want{{1, f("A", "x\ry")}}},
		{"case kept", "pAcKaGe: x\n", []want{{1, f("pAcKaGe", "x")}}},
		{"many fields", manyFields(100), []want{{1, manyFieldsWant(100)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, NewReader(strings.NewReader(tc.in)))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d stanzas, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if got[i].Line != w.line {
					t.Errorf("stanza %d: Line %d, want %d", i, got[i].Line, w.line)
				}
				if !reflect.DeepEqual(got[i].Fields, w.fields) {
					t.Errorf("stanza %d:\n got %q\nwant %q", i, got[i].Fields, w.fields)
				}
			}
		})
	}
}

func manyFields(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("F" + strings.Repeat("x", i) + ": v\n")
	}
	return b.String()
}

func manyFieldsWant(n int) []Field {
	var out []Field
	for i := range n {
		out = append(out, Field{"F" + strings.Repeat("x", i), "v"})
	}
	return out
}

// tooManyFields is a stanza of MaxFields+1 distinct short fields.
func tooManyFields() string {
	var b strings.Builder
	for i := range MaxFields + 1 {
		fmt.Fprintf(&b, "F%d: v\n", i)
	}
	return b.String()
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		line int
		msg  string
	}{
		{"duplicate", "Package: a\nVersion: 1\nPackage: b\n", 0, 3, `duplicate field "Package" (first on line 1)`},
		{"duplicate differs in case", "A: 1\n\nPackage: a\nX: 1\npackage: b\n", 0, 5, `duplicate field "package" (first on line 3)`},
		{"duplicate among many", manyFields(60) + "Fxxxxx: again\n", 0, 61, `(first on line 6)`},
		{"continuation first", " cont\nA: 1\n", 0, 1, "continuation line before the first field"},
		{"continuation starts a stanza", "A: 1\n\n\tcont\n", 0, 3, "continuation line before the first field"},
		{"continuation after comment starts a stanza", "A: 1\n\n# c\n cont\n", 0, 4, "continuation line before the first field"},
		{"no colon", "A: 1\nPackage hello\n", 0, 2, "found no ':'"},
		{"no colon after comment", "A: 1\nB: 2\n#c\nbad line\n", 0, 4, "found no ':'"},
		{"empty name", ": x\n", 0, 1, "empty field name"},
		{"name starts with dash", "-Foo: x\n", 0, 1, "starts with '-'"},
		{"blank in name", "Fo o: x\n", 0, 1, "invalid character"},
		{"tab in name", "Fo\to: x\n", 0, 1, "invalid character"},
		{"non-ASCII name", "Päckage: x\n", 0, 1, "invalid character"},
		{"control char in name", "A\x00: x\n", 0, 1, "invalid character"},
		{"leading CR", "A: 1\n\rB: 2\n", 0, 2, "invalid character"},
		{"BOM keeps line numbers", "\xEF\xBB\xBFA: 1\nA: 2", 0, 2, "duplicate"},
		{"CRLF keeps line numbers", "A: 1\r\n\r\nB 2\r\n", 0, 3, "found no ':'"},
		{"stanza too large", "A: 1\n\nB: " + strings.Repeat("x", 100) + "\n", 64, 3, "longer than 64 bytes"},
		{"continued stanza too large", "A: 1\n\nB: x\n" + strings.Repeat(" yyyyyyy\n", 20), 64, 3, "longer than 64 bytes"},
		{"too many fields", tooManyFields(), 0, MaxFields + 1, "more than 65536 fields"},
		{"comment line too large", "A: 1\n\n#" + strings.Repeat("x", 100) + "\nB: 1\n", 64, 3, "longer than 64 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReaderName(strings.NewReader(tc.in), "dir/Packages")
			if tc.max > 0 {
				r.SetMaxStanzaSize(tc.max)
			}
			_, err := readAll(t, r)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if se.Line != tc.line || se.File != "dir/Packages" || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("got %q (line %d), want line %d containing %q", err, se.Line, tc.line, tc.msg)
			}
			if want := "dir/Packages:"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if _, again := r.Next(); again != err {
				t.Errorf("Next after an error returned %v, want the same error", again)
			}
		})
	}
}

func TestSyntaxErrorString(t *testing.T) {
	if got := (&SyntaxError{File: "x/control", Line: 7, Msg: "bad"}).Error(); got != "x/control:7: bad" {
		t.Errorf("got %q", got)
	}
	if got := (&SyntaxError{Line: 7, Msg: "bad"}).Error(); got != "line 7: bad" {
		t.Errorf("got %q", got)
	}
}

type failReader struct{ data []byte }

var errDisk = errors.New("disk on fire")

func (r *failReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errDisk
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadErrorIsWrapped(t *testing.T) {
	r := NewReaderName(&failReader{data: []byte("A: 1\n\nB: 2\nC")}, "idx")
	st, err := r.Next()
	if err != nil || st.Get("A") != "1" {
		t.Fatalf("first stanza: %v %v", st, err)
	}
	_, err = r.Next()
	var se *SyntaxError
	if !errors.Is(err, errDisk) || errors.As(err, &se) || !strings.Contains(err.Error(), "idx") {
		t.Fatalf("got %v, want a wrapped read error naming the file", err)
	}
}

func TestStanzaAccessors(t *testing.T) {
	s := &Stanza{Fields: f("Package", "a", "Version", "1", "Empty", "")}
	if got := s.Get("package"); got != "a" {
		t.Errorf("Get(package) = %q", got)
	}
	if v, ok := s.Lookup("EMPTY"); !ok || v != "" {
		t.Errorf("Lookup(EMPTY) = %q, %v", v, ok)
	}
	if v, ok := s.Lookup("Missing"); ok || v != "" {
		t.Errorf("Lookup(Missing) = %q, %v", v, ok)
	}
	s.Set("VERSION", "2")
	s.Set("Depends", "b")
	want := f("Package", "a", "Version", "2", "Empty", "", "Depends", "b")
	if !reflect.DeepEqual(s.Fields, want) {
		t.Errorf("after Set: %q, want %q", s.Fields, want)
	}
	if !s.Delete("empty") || s.Delete("empty") {
		t.Error("Delete(empty) should succeed once")
	}
	if got := len(s.Fields); got != 3 {
		t.Errorf("%d fields after Delete, want 3", got)
	}
}

func TestParseOne(t *testing.T) {
	st, err := ParseOne([]byte("\n# c\nPackage: a\nVersion: 1\n\n\n"))
	if err != nil || st.Get("Version") != "1" || st.Line != 3 {
		t.Fatalf("ParseOne: %+v, %v", st, err)
	}
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"", 1, "no stanza"},
		{"# only a comment\n\n", 3, "no stanza"},
		{"A: 1\n\nB: 2\n", 3, "more than one stanza"},
		{"A: 1\nA: 2\n", 2, "duplicate"},
	} {
		_, err := ParseOne([]byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != tc.line || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("ParseOne(%q) = %v, want line %d %q", tc.in, err, tc.line, tc.msg)
		}
	}
	// A control file is never taken for a compressed stream.
	st, err = ParseOne([]byte("BZh91AY&SY: x\n"))
	if err != nil || st.Get("BZh91AY&SY") != "x" {
		t.Errorf("bzip2-looking field name: %+v, %v", st, err)
	}
}

func TestParseAll(t *testing.T) {
	all, err := ParseAll(strings.NewReader("A: 1\n\nB: 2\n\nC 3\n"))
	var se *SyntaxError
	if len(all) != 2 || !errors.As(err, &se) || se.Line != 5 {
		t.Fatalf("ParseAll = %d stanzas, %v", len(all), err)
	}
	all, err = ParseAll(strings.NewReader("A: 1\n\nB: 2\n"))
	if len(all) != 2 || err != nil {
		t.Fatalf("ParseAll = %d stanzas, %v", len(all), err)
	}
}

func TestBZhFieldNameIsPlain(t *testing.T) {
	all, err := ParseAll(strings.NewReader("BZh: 1\n"))
	if err != nil || len(all) != 1 || all[0].Get("BZh") != "1" {
		t.Fatalf("got %v, %v", all, err)
	}
}

func TestWriterChecks(t *testing.T) {
	tests := []struct {
		name string
		s    *Stanza
		want string // "" for success: the exact output
	}{
		{"canonical", &Stanza{Fields: f("Package", "a", "Description", "short\n long\n .\n more", "Conffiles", "\n /etc/x 1", "Empty", "")},
			"Package: a\nDescription: short\n long\n .\n more\nConffiles:\n /etc/x 1\nEmpty:\n"},
		{"no fields", &Stanza{}, "no fields"},
		{"bad name", &Stanza{Fields: f("A B", "x")}, "bad field name"},
		{"colon in name", &Stanza{Fields: f("A:", "x")}, "bad field name"},
		{"hash name", &Stanza{Fields: f("#A", "x")}, "bad field name"},
		{"duplicate", &Stanza{Fields: f("A", "1", "a", "2")}, "duplicate"},
		{"duplicate among many", &Stanza{Fields: append(manyFieldsWant(40), Field{"F", "again"})}, "duplicate"},
		{"leading blank", &Stanza{Fields: f("A", " x")}, "starts with a blank"},
		{"trailing blank", &Stanza{Fields: f("A", "x ")}, "ends with whitespace"},
		{"trailing newline", &Stanza{Fields: f("A", "x\n y\n")}, "ends with whitespace"},
		{"first line trailing blank", &Stanza{Fields: f("A", "x \n y")}, "first line"},
		{"unindented continuation", &Stanza{Fields: f("A", "x\ny")}, "does not start"},
		{"empty continuation", &Stanza{Fields: f("A", "x\n\n y")}, "does not start"},
		{"blank continuation", &Stanza{Fields: f("A", "x\n \t\n y")}, "blank continuation"},
		{"CR continuation", &Stanza{Fields: f("A", "x\n y\r\n z")}, "ends with CR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteStanza(&buf, tc.s)
			if tc.name == "canonical" {
				if err != nil || buf.String() != tc.want {
					t.Fatalf("got %q, %v; want %q", buf.String(), err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidField) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidField containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q despite the error", buf.String())
			}
		})
	}
}

func TestWriterSeparates(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, s := range []*Stanza{{Fields: f("A", "1")}, {Fields: f("B", "2")}, {Fields: f("C", "3\n x")}} {
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	if want := "A: 1\n\nB: 2\n\nC: 3\n x\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// fixtureIndexes are the three Packages indexes of the bookworm fixture with
// their stanza counts.
var fixtureIndexes = []struct {
	path    string
	stanzas int
}{
	{"debian/dists/bookworm/main/binary-amd64/Packages.xz", 63440},
	{"debian/dists/bookworm-updates/main/binary-amd64/Packages.xz", 38},
	{"debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz", 3028},
}

// TestFullFixtureCounts reads every stanza of the three real indexes
// straight from their .xz files (minutes under the race detector, 1 s
// without, so it runs in make test's non-race pass).
func TestFullFixtureCounts(t *testing.T) {
	dir := testfixture.Bookworm(t)
	testfixture.WholeIndex(t)
	total := 0
	for _, idx := range fixtureIndexes {
		path := filepath.Join(dir, idx.path)
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReaderName(fh, path)
		n, fields := 0, 0
		for {
			st, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Get("Package") == "" || st.Get("Filename") == "" {
				t.Fatalf("%s:%d: stanza without Package or Filename", path, st.Line)
			}
			n++
			fields += len(st.Fields)
		}
		fh.Close()
		if n != idx.stanzas {
			t.Errorf("%s: %d stanzas, want %d", idx.path, n, idx.stanzas)
		}
		total += n
	}
	if total != 66506 {
		t.Errorf("%d stanzas in all, want 66506", total)
	}
}

// TestRoundTripFixture writes the real indexes back and expects Debian's
// bytes exactly: Packages files are already in canonical form.
func TestRoundTripFixture(t *testing.T) {
	dir := testfixture.Bookworm(t)
	for _, idx := range fixtureIndexes[1:] {
		data := decompressFile(t, filepath.Join(dir, idx.path))
		all, err := ParseAll(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		for _, s := range all {
			if err := w.Write(s); err != nil {
				t.Fatal(err)
			}
		}
		buf.WriteByte('\n') // Debian ends the last stanza with a blank line too
		if !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("%s: written index differs from the original", idx.path)
		}
		again, err := ParseAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if !equalStanzas(all, again) {
			t.Errorf("%s: re-read stanzas differ", idx.path)
		}
	}
}

func equalStanzas(a, b []*Stanza) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i].Fields, b[i].Fields) {
			return false
		}
	}
	return true
}

// TestCompressedSame reads one index plain and in every compression Debian
// uses, and expects the same stanzas.
func TestCompressedSame(t *testing.T) {
	dir := testfixture.Bookworm(t)
	xzPath := filepath.Join(dir, fixtureIndexes[1].path)
	plain := decompressFile(t, xzPath)
	want, err := ParseAll(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"plain": plain}
	if inputs["xz"], err = os.ReadFile(xzPath); err != nil {
		t.Fatal(err)
	}
	for _, format := range []compress.Format{compress.Gzip, compress.Zstd} {
		var buf bytes.Buffer
		w, err := compress.NewWriter(&buf, format)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		inputs[string(format)] = buf.Bytes()
	}
	// compress has no bzip2 writer; the host's bzip2 makes the input.
	bz := exec.Command(testfixture.Tool(t, "bzip2", "bzip2"), "-c")
	bz.Stdin = bytes.NewReader(plain)
	if inputs["bzip2"], err = bz.Output(); err != nil {
		t.Fatal(err)
	}
	for name, in := range inputs {
		got, err := ParseAll(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 38 || !equalStanzas(got, want) {
			t.Errorf("%s: got %d stanzas, not the same as plain", name, len(got))
		}
	}
	// A corrupt compressed stream is a read error naming the file, not a
	// syntax error.
	bad := append([]byte(nil), inputs["gzip"][:len(inputs["gzip"])/2]...)
	_, err = readAll(t, NewReaderName(bytes.NewReader(bad), "Packages.gz"))
	var se *SyntaxError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "Packages.gz") {
		t.Errorf("truncated gzip: got %v, want a read error naming Packages.gz", err)
	}
}

// TestGolden parses testdata/sample.control (every syntax feature) and
// compares its stanzas and their canonical form with testdata/sample.golden.
func TestGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/sample.control")
	if err != nil {
		t.Fatal(err)
	}
	all, err := ParseAll(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, s := range all {
		fmt.Fprintf(&out, "stanza at line %d\n", s.Line)
		for _, fl := range s.Fields {
			fmt.Fprintf(&out, "  %s = %q\n", fl.Name, fl.Value)
		}
	}
	out.WriteString("--- canonical ---\n")
	w := NewWriter(&out)
	for _, s := range all {
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	golden := "testdata/sample.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("output differs from %s (run with -update after checking):\n%s", golden, out.String())
	}
}
