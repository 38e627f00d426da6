package relation

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// archCases are ArchIs's table: an architecture, a pattern and dpkg's
// answer (dpkg-architecture -a ARCH -i PATTERN).
var archCases = []struct {
	arch, pattern string
	want          bool
}{
	// any: every architecture, known or not.
	{"amd64", "any", true},
	{"hurd-i386", "any", true},
	{"kfreebsd-amd64", "any", true},
	{"loong64", "any", true},
	{"unknown", "any", true},
	// A name: itself and its linux- spelling.
	{"amd64", "amd64", true},
	{"amd64", "i386", false},
	{"amd64", "linux-amd64", true},
	{"linux-amd64", "amd64", true},
	{"i386", "hurd-i386", false},
	{"unknown", "unknown", true},
	{"amd64", "unknown", false},
	// linux-any: every Linux architecture, whatever the ABI and libc.
	{"amd64", "linux-any", true},
	{"arm64", "linux-any", true},
	{"armel", "linux-any", true},
	{"armhf", "linux-any", true},
	{"i386", "linux-any", true},
	{"mips64el", "linux-any", true},
	{"ppc64el", "linux-any", true},
	{"riscv64", "linux-any", true},
	{"s390x", "linux-any", true},
	{"loong64", "linux-any", true},
	{"x32", "linux-any", true},
	{"musl-linux-amd64", "linux-any", true},
	{"uclibc-linux-armel", "linux-any", true},
	{"linux-amd64", "linux-any", true},
	{"hurd-i386", "linux-any", false},
	{"hurd-amd64", "linux-any", false},
	{"kfreebsd-amd64", "linux-any", false},
	{"unknown", "linux-any", false},
	// OS wildcards.
	{"hurd-i386", "hurd-any", true},
	{"hurd-amd64", "hurd-any", true},
	{"i386", "hurd-any", false},
	{"kfreebsd-i386", "kfreebsd-any", true},
	{"amd64", "kfreebsd-any", false},
	{"openbsd-amd64", "openbsd-any", true},
	{"netbsd-sparc64", "netbsd-any", true},
	// CPU wildcards: any-amd64 and any-i386 across operating systems.
	{"amd64", "any-amd64", true},
	{"hurd-amd64", "any-amd64", true},
	{"kfreebsd-amd64", "any-amd64", true},
	{"x32", "any-amd64", true},
	{"musl-linux-amd64", "any-amd64", true},
	{"i386", "any-amd64", false},
	{"arm64", "any-amd64", false},
	{"unknown", "any-amd64", false},
	{"i386", "any-i386", true},
	{"hurd-i386", "any-i386", true},
	{"kfreebsd-i386", "any-i386", true},
	{"amd64", "any-i386", false},
	{"hurd-amd64", "any-i386", false},
	{"armel", "any-arm", true},
	{"armhf", "any-arm", true},
	{"arm64", "any-arm", false},
	{"arm64", "any-arm64", true},
	{"mips64el", "any-mips64el", true},
	{"mipsn32el", "any-mips64el", true},
	{"loong64", "any-loong64", true},
	{"powerpcspe", "any-powerpc", true},
	{"linux-amd64", "any-amd64", true},
	// Libc and ABI wildcards: gnu is a libc, not an OS, so gnu-any
	// (OS gnu) matches nothing and gnu-any-any every GNU libc.
	{"amd64", "gnu-any", false},
	{"hurd-i386", "gnu-any", false},
	{"amd64", "gnu-any-any", true},
	{"hurd-i386", "gnu-any-any", true},
	{"kfreebsd-amd64", "gnu-any-any", true},
	{"musl-linux-amd64", "gnu-any-any", false},
	{"freebsd-amd64", "gnu-any-any", false},
	{"musl-linux-arm64", "musl-any-any", true},
	{"armhf", "eabihf-any-any-any", true},
	{"armel", "eabihf-any-any-any", false},
	{"amd64", "base-gnu-linux-any", true},
	{"amd64", "any-any-any-amd64", true},
	{"amd64", "gnu-linux-amd64", false}, // no "any": a name dpkg does not know
	// Unknown or malformed wildcards match nothing.
	{"amd64", "unknown-any", false},
	{"amd64", "any-unknown", false},
	{"amd64", "foo-any-any", false},
	{"amd64", "any-any-any-any-any", false},
	{"amd64", "any-", false},
	{"amd64", "-any", false},
	{"amd64", "any--", false},
	{"amd64", "", false},
	{"", "linux-any", false},
	{"linux-", "linux-any", false},
}

func TestArchIs(t *testing.T) {
	for _, c := range archCases {
		if got := ArchIs(c.arch, c.pattern); got != c.want {
			t.Errorf("ArchIs(%q, %q) = %v, want %v", c.arch, c.pattern, got, c.want)
		}
	}
}

func TestArchTupleOf(t *testing.T) {
	for _, c := range []struct {
		arch string
		want string // "" for unknown
	}{
		{"amd64", "base-gnu-linux-amd64"},
		{"linux-arm64", "base-gnu-linux-arm64"},
		{"armhf", "eabihf-gnu-linux-arm"},
		{"armel", "eabi-gnu-linux-arm"},
		{"mips64el", "abi64-gnu-linux-mips64el"},
		{"x32", "x32-gnu-linux-amd64"},
		{"loong64", "base-gnu-linux-loong64"},
		{"hurd-i386", "base-gnu-hurd-i386"},
		{"hurd-amd64", "base-gnu-hurd-amd64"},
		{"kfreebsd-amd64", "base-gnu-kfreebsd-amd64"},
		{"musl-linux-armhf", "eabihf-musl-linux-arm"},
		{"musl-linux-riscv64", "base-musl-linux-riscv64"},
		{"openbsd-riscv64", "base-bsd-openbsd-riscv64"},
		{"all", ""},
		{"any", ""},
		{"linux-any", ""},
		{"armhf-linux", ""},
		{"musl-linux-", ""},
		{"", ""},
	} {
		tu, ok := ArchTupleOf(c.arch)
		got := ""
		if ok {
			got = tu.ABI + "-" + tu.Libc + "-" + tu.OS + "-" + tu.CPU
		}
		if got != c.want {
			t.Errorf("ArchTupleOf(%q) = %q, want %q", c.arch, got, c.want)
		}
	}
}

// allArchs lists every architecture name the table defines, as dpkg
// expands its templates: a name an earlier row gave (mips64, which is
// abi64) is not expanded again.
func allArchs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, r := range tupleTable {
		if r.cpu != "" {
			add(r.arch)
			continue
		}
		for _, c := range cpuNames {
			add(r.arch + c)
		}
	}
	return out
}

// TestArchTableOneToOne: every name of the table reads back as its own
// row's tuple and no two names share a tuple, so ArchIs may tell two
// plain names apart without reading the table.
func TestArchTableOneToOne(t *testing.T) {
	names := allArchs()
	if len(names) < 100 {
		t.Fatalf("only %d architectures", len(names))
	}
	byTuple := map[ArchTuple]string{}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("%s named twice", n)
		}
		seen[n] = true
		tu, ok := ArchTupleOf(n)
		if !ok {
			t.Errorf("%s unknown", n)
			continue
		}
		if o, dup := byTuple[tu]; dup {
			t.Errorf("%s and %s share %+v", n, o, tu)
		}
		byTuple[tu] = n
		if !ArchIs(n, n) || !ArchIs(n, "any") || !ArchIs(n, "any-"+tu.CPU) || !ArchIs(n, tu.OS+"-any") ||
			!ArchIs(n, tu.ABI+"-"+tu.Libc+"-"+tu.OS+"-any") {
			t.Errorf("%s does not match its own wildcards", n)
		}
	}
	for _, n := range []string{"amd64", "arm64", "armel", "armhf", "i386", "mips64el", "ppc64el", "riscv64", "s390x", "loong64", "hurd-i386", "hurd-amd64", "kfreebsd-amd64", "kfreebsd-i386"} {
		if !seen[n] {
			t.Errorf("release or port architecture %s missing", n)
		}
	}
}

// TestAppliesToWildcards: restriction lists with wildcards and
// negations, read as dpkg's debarch_is_concerned reads them.
func TestAppliesToWildcards(t *testing.T) {
	for _, c := range []struct {
		list, arch string
		want       bool
	}{
		{"linux-any", "amd64", true},
		{"linux-any", "hurd-i386", false},
		{"linux-any", "kfreebsd-amd64", false},
		{"!linux-any", "hurd-i386", true},
		{"!linux-any", "amd64", false},
		{"any", "hurd-amd64", true},
		{"!any", "amd64", false},
		{"any-amd64", "amd64", true},
		{"any-amd64", "hurd-amd64", true},
		{"any-amd64", "i386", false},
		{"!any-i386", "i386", false},
		{"!any-i386", "hurd-i386", false},
		{"!any-i386", "amd64", true},
		{"!any-i386 !any-amd64", "hurd-amd64", false},
		{"!any-i386 !any-amd64", "arm64", true},
		{"hurd-any kfreebsd-any", "hurd-i386", true},
		{"hurd-any kfreebsd-any", "amd64", false},
		{"gnu-any", "hurd-i386", false},
		{"gnu-any-any", "hurd-i386", true},
		{"LINUX-ANY", "amd64", true},
		{"!I386", "i386", false},
		// Unknown wildcards match nothing.
		{"foo-any", "amd64", false},
		{"!foo-any", "amd64", true},
		{"any-foo", "amd64", false},
		// Mixed lists: the first entry that matches decides; none
		// matching, a negation in the list makes it apply.
		{"amd64 !i386", "arm64", true},
		{"amd64 !i386", "i386", false},
		{"!i386 amd64", "amd64", true},
		{"linux-any !amd64", "amd64", true},
		{"!amd64 linux-any", "amd64", false},
	} {
		d, err := Parse("a [" + c.list + "]")
		if err != nil {
			t.Fatal(err)
		}
		if got := d[0][0].AppliesTo(c.arch); got != c.want {
			t.Errorf("[%s].AppliesTo(%s) = %v, want %v", c.list, c.arch, got, c.want)
		}
	}
}

// TestArchIsDpkg compares ArchIs and AppliesTo with the host's
// Dpkg::Arch (debarch_is, debarch_is_concerned) over the table's
// cases, the port architectures against a set of wildcards, and lists.
func TestArchIsDpkg(t *testing.T) {
	testfixture.Tool(t, "dpkg-architecture", "dpkg-dev")
	perl := testfixture.Tool(t, "perl", "perl-base")
	type q struct {
		arch, list string
	}
	var qs []q
	for _, c := range archCases {
		if c.pattern != "" && !strings.ContainsAny(c.pattern, " !") && c.arch != "" {
			qs = append(qs, q{c.arch, c.pattern})
		}
	}
	// Architectures both dpkg 1.21 (bookworm) and 1.22 know.
	archs := []string{"amd64", "arm64", "armel", "armhf", "i386", "mips64el", "mipsel", "ppc64el", "riscv64", "s390x",
		"loong64", "alpha", "hppa", "m68k", "powerpc", "ppc64", "sh4", "sparc64", "x32", "mipsn32el", "mips64r6el",
		"hurd-i386", "hurd-amd64", "kfreebsd-amd64", "kfreebsd-i386", "musl-linux-amd64", "musl-linux-armhf",
		"uclibc-linux-armel", "freebsd-amd64", "openbsd-i386", "netbsd-sparc64", "darwin-arm64", "solaris-sparc64",
		"linux-amd64", "linux-armhf", "powerpcspe", "unknown"}
	wilds := []string{"any", "linux-any", "hurd-any", "kfreebsd-any", "gnu-any", "any-amd64", "any-i386", "any-arm",
		"any-mips64el", "any-powerpc", "gnu-any-any", "musl-any-any", "eabihf-any-any-any", "abi64-any-any-any",
		"base-gnu-linux-any", "bsd-any-any", "foo-any", "any-foo", "amd64", "linux-i386", "!linux-any",
		"!any-i386 !any-amd64", "amd64 !i386", "!i386 amd64", "linux-any !amd64", "!amd64 linux-any", "hurd-any kfreebsd-any"}
	for _, a := range archs {
		for _, w := range wilds {
			qs = append(qs, q{a, w})
		}
	}
	t.Logf("%d questions", len(qs))
	var in strings.Builder
	for _, x := range qs {
		fmt.Fprintf(&in, "%s\t%s\n", x.arch, x.list)
	}
	cmd := exec.Command(perl, "-MDpkg::Arch=debarch_is_concerned", "-ne",
		`chomp; my ($a, $l) = split /\t/; print debarch_is_concerned($a, split(/ /, $l)) ? "1\n" : "0\n";`)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("perl Dpkg::Arch: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	i := 0
	for ; sc.Scan() && i < len(qs); i++ {
		want := sc.Text() == "1"
		x := qs[i]
		// A list the parser refuses ("[-any]") is compared by ArchIs only.
		if d, err := Parse("a [" + x.list + "]"); err == nil {
			if got := d[0][0].AppliesTo(x.arch); got != want {
				t.Errorf("[%s].AppliesTo(%s) = %v, dpkg says %v", x.list, x.arch, got, want)
			}
		}
		if !strings.ContainsAny(x.list, " !") {
			if got := ArchIs(x.arch, x.list); got != want {
				t.Errorf("ArchIs(%s, %s) = %v, dpkg says %v", x.arch, x.list, got, want)
			}
		}
	}
	if i != len(qs) {
		t.Fatalf("dpkg answered %d of %d questions", i, len(qs))
	}
}

// FuzzArchIs: any architecture and pattern, no panic; a name matches
// itself and "any"; a plain known name matches only its own tuple.
func FuzzArchIs(f *testing.F) {
	for _, c := range archCases {
		f.Add(c.arch, c.pattern)
	}
	f.Fuzz(func(t *testing.T, arch, pattern string) {
		got := ArchIs(arch, pattern)
		if !ArchIs(arch, arch) || !ArchIs(arch, "any") {
			t.Fatalf("%q does not match itself or any", arch)
		}
		if !got {
			return
		}
		if pt, ok := ArchTupleOf(pattern); ok && pattern != arch {
			if at, ok := ArchTupleOf(arch); !ok || at != pt {
				t.Fatalf("ArchIs(%q, %q) across tuples %+v and %+v", arch, pattern, at, pt)
			}
		}
		p := Possibility{Name: "a", Archs: []ArchSpec{{Not: true, Arch: pattern}}}
		if strings.ToLower(pattern) == pattern && p.AppliesTo(arch) {
			t.Fatalf("[!%s] applies to %q, which it matches", pattern, arch)
		}
	})
}
