package version

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestGolden checks every pair in testdata/compare.golden, whose verdicts
// come from dpkg --compare-versions (see testdata/gen-golden.py).
func TestGolden(t *testing.T) {
	f, err := os.Open("testdata/compare.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, bad := 0, 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Fields(text)
		if len(parts) != 3 {
			t.Fatalf("compare.golden:%d: want 3 fields, got %q", line, text)
		}
		want := map[string]int{"<": -1, "=": 0, ">": 1}[parts[2]]
		got, err := CompareStrings(parts[0], parts[1])
		if err != nil {
			t.Errorf("compare.golden:%d: %v", line, err)
			continue
		}
		n++
		if got != want {
			bad++
			if bad < 20 {
				t.Errorf("compare.golden:%d: Compare(%s, %s) = %d, dpkg says %s", line, parts[0], parts[1], got, parts[2])
			}
		}
		// The order must be antisymmetric too.
		if back, _ := CompareStrings(parts[1], parts[0]); back != -want {
			t.Errorf("compare.golden:%d: Compare(%s, %s) = %d, not the reverse of %d", line, parts[1], parts[0], back, want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 20000 {
		t.Fatalf("only %d pairs in compare.golden, want at least 20000", n)
	}
	if bad > 0 {
		t.Fatalf("%d of %d pairs disagree with dpkg", bad, n)
	}
	t.Logf("%d pairs agree with dpkg", n)
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		str  string
	}{
		{"1.0", Version{0, "1.0", ""}, "1.0"},
		{"1.0-1", Version{0, "1.0", "1"}, "1.0-1"},
		{"1:2.3-4", Version{1, "2.3", "4"}, "1:2.3-4"},
		{"0:1.0", Version{0, "1.0", ""}, "1.0"},
		{"1.0-1-2", Version{0, "1.0-1", "2"}, "1.0-1-2"},
		{"2:1.0:3-1", Version{2, "1.0:3", "1"}, "2:1.0:3-1"},
		{" 1.0 ", Version{0, "1.0", ""}, "1.0"},
		{"1.2.13.dfsg-1", Version{0, "1.2.13.dfsg", "1"}, "1.2.13.dfsg-1"},
		{"1.0~rc1+dfsg-1~bpo12+1", Version{0, "1.0~rc1+dfsg", "1~bpo12+1"}, "1.0~rc1+dfsg-1~bpo12+1"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if got.String() != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got.String(), tt.str)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "version string is empty"},
		{"   ", "version string is empty"},
		{"1.0 2", "embedded spaces"},
		{":1.0", "epoch in version is empty"},
		{"a:1.0", "epoch in version is not number"},
		{"-1:1.0", "epoch in version is negative"},
		{"99999999999:1.0", "epoch in version is too big"},
		{"1:", "nothing after colon"},
		{"1.0-", "revision number is empty"},
		{"-1", "version number is empty"},
		{"a1.0", "does not start with digit"},
		{"1.0_1", "invalid character"},
		{"1:1.0-1:2", "invalid character"},
		{"1.0-1_2", "invalid character"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) error = %v, want *ParseError", tt.in, err)
			continue
		}
		if !strings.Contains(pe.Reason, tt.reason) {
			t.Errorf("Parse(%q) reason = %q, want it to contain %q", tt.in, pe.Reason, tt.reason)
		}
		if pe.Input != tt.in {
			t.Errorf("Parse(%q) error names input %q", tt.in, pe.Input)
		}
	}
}

func TestCompareEdges(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0~~", "1.0~", -1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1.0", "1.0-0", 0},
		{"1.0", "1.00", 0},
		{"1:0.1", "9.9", 1},
		{"1.0a", "1.0+", -1},
		{"1.0-1", "1.0", 1},
		{"2.10", "2.9", 1},
	}
	for _, tt := range tests {
		if got, err := CompareStrings(tt.a, tt.b); err != nil || got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.0", "1:2.3-4", "1.0~rc1+b1", "0", "1.0-1-2", "2:1.0:3-1", "1.2.13.dfsg-1"} {
		f.Add(s, "1.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := Parse(a)
		vb, errB := Parse(b)
		if errA != nil || errB != nil {
			return
		}
		// A parsed version prints back to a string that parses to itself.
		again, err := Parse(va.String())
		if err != nil || again != va {
			t.Fatalf("round trip of %q: %#v -> %q -> %#v, %v", a, va, va.String(), again, err)
		}
		c1, c2 := Compare(va, vb), Compare(vb, va)
		if c1 != -c2 {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, c1, b, a, c2)
		}
		if Compare(va, va) != 0 {
			t.Fatalf("Compare(%q,%q) != 0", a, a)
		}
	})
}

func BenchmarkCompare(b *testing.B) {
	x, y := MustParse("1:1.35.0-4+deb12u1+b1"), MustParse("1:1.35.0-4+deb12u1")
	for b.Loop() {
		Compare(x, y)
	}
}
