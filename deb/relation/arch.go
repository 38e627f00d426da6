package relation

import "strings"

// ArchTuple is a Debian architecture as dpkg names its parts (dpkg's
// "debtuple"): ABI, C library, operating system and CPU, such as
// base-gnu-linux-amd64 for amd64, eabihf-gnu-linux-arm for armhf and
// base-gnu-hurd-i386 for hurd-i386.
type ArchTuple struct {
	ABI, Libc, OS, CPU string
}

// tupleRow is one line of dpkg's tupletable. A row with an empty cpu is a
// template over every CPU of cpuNames: its architecture is arch (a
// prefix such as "musl-linux-", or "" for the plain Linux names)
// followed by the CPU.
type tupleRow struct {
	abi, libc, os, cpu, arch string
}

// tupleTable is dpkg 1.22's data/tupletable, in its order (the first row
// naming an architecture wins, as dpkg loads it), with kfreebsd-*,
// kopensolaris-* and powerpcspe, which later dpkg releases dropped.
var tupleTable = [...]tupleRow{
	{"eabi", "uclibc", "linux", "arm", "uclibc-linux-armel"},
	{"base", "uclibc", "linux", "", "uclibc-linux-"},
	{"eabihf", "musl", "linux", "arm", "musl-linux-armhf"},
	{"base", "musl", "linux", "", "musl-linux-"},
	{"eabihf", "gnu", "linux", "arm", "armhf"},
	{"eabi", "gnu", "linux", "arm", "armel"},
	{"abin32", "gnu", "linux", "mips64r6el", "mipsn32r6el"},
	{"abin32", "gnu", "linux", "mips64r6", "mipsn32r6"},
	{"abin32", "gnu", "linux", "mips64el", "mipsn32el"},
	{"abin32", "gnu", "linux", "mips64", "mipsn32"},
	{"abi64", "gnu", "linux", "mips64r6el", "mips64r6el"},
	{"abi64", "gnu", "linux", "mips64r6", "mips64r6"},
	{"abi64", "gnu", "linux", "mips64el", "mips64el"},
	{"abi64", "gnu", "linux", "mips64", "mips64"},
	{"spe", "gnu", "linux", "powerpc", "powerpcspe"},
	{"x32", "gnu", "linux", "amd64", "x32"},
	{"base", "gnu", "linux", "", ""},
	{"base", "gnu", "kfreebsd", "amd64", "kfreebsd-amd64"},
	{"base", "gnu", "kfreebsd", "i386", "kfreebsd-i386"},
	{"base", "gnu", "kopensolaris", "amd64", "kopensolaris-amd64"},
	{"base", "gnu", "kopensolaris", "i386", "kopensolaris-i386"},
	{"base", "gnu", "hurd", "amd64", "hurd-amd64"},
	{"base", "gnu", "hurd", "i386", "hurd-i386"},
	{"base", "bsd", "dragonflybsd", "amd64", "dragonflybsd-amd64"},
	{"base", "bsd", "freebsd", "amd64", "freebsd-amd64"},
	{"base", "bsd", "freebsd", "arm", "freebsd-arm"},
	{"base", "bsd", "freebsd", "arm64", "freebsd-arm64"},
	{"base", "bsd", "freebsd", "i386", "freebsd-i386"},
	{"base", "bsd", "freebsd", "powerpc", "freebsd-powerpc"},
	{"base", "bsd", "freebsd", "ppc64", "freebsd-ppc64"},
	{"base", "bsd", "freebsd", "riscv", "freebsd-riscv"},
	{"base", "bsd", "openbsd", "", "openbsd-"},
	{"base", "bsd", "netbsd", "", "netbsd-"},
	{"base", "bsd", "darwin", "amd64", "darwin-amd64"},
	{"base", "bsd", "darwin", "arm", "darwin-arm"},
	{"base", "bsd", "darwin", "arm64", "darwin-arm64"},
	{"base", "bsd", "darwin", "i386", "darwin-i386"},
	{"base", "bsd", "darwin", "powerpc", "darwin-powerpc"},
	{"base", "bsd", "darwin", "ppc64", "darwin-ppc64"},
	{"base", "sysv", "aix", "powerpc", "aix-powerpc"},
	{"base", "sysv", "aix", "ppc64", "aix-ppc64"},
	{"base", "sysv", "solaris", "amd64", "solaris-amd64"},
	{"base", "sysv", "solaris", "i386", "solaris-i386"},
	{"base", "sysv", "solaris", "sparc", "solaris-sparc"},
	{"base", "sysv", "solaris", "sparc64", "solaris-sparc64"},
	{"base", "tos", "mint", "m68k", "mint-m68k"},
}

// cpuNames is the first column of dpkg 1.22's data/cputable: the CPUs
// the template rows of tupleTable expand over.
var cpuNames = [...]string{"alpha", "amd64", "arc", "armeb", "arm", "arm64", "hppa", "loong64", "i386", "ia64", "m68k", "mips", "mipsel", "mipsr6", "mipsr6el", "mips64", "mips64el", "mips64r6", "mips64r6el", "nios2", "or1k", "powerpc", "powerpcel", "ppc64", "ppc64el", "riscv64", "s390", "s390x", "sh3", "sh3eb", "sh4", "sh4eb", "sparc", "sparc64"}

func isCPU(s string) bool {
	for _, c := range cpuNames {
		if c == s {
			return true
		}
	}
	return false
}

// ArchTupleOf returns the tuple of the Debian architecture arch
// (dpkg's debarch_to_debtuple) and whether dpkg knows it. A "linux-"
// prefix names the plain Linux architecture ("linux-amd64" is amd64).
// Wildcards are not architectures: ArchTupleOf("linux-any") is unknown.
func ArchTupleOf(arch string) (ArchTuple, bool) {
	if rest, ok := strings.CutPrefix(arch, "linux-"); ok {
		arch, _, _ = strings.Cut(rest, "-")
	}
	for i := range tupleTable {
		r := &tupleTable[i]
		if r.cpu != "" {
			if r.arch == arch {
				return ArchTuple{r.abi, r.libc, r.os, r.cpu}, true
			}
			continue
		}
		if cpu, ok := strings.CutPrefix(arch, r.arch); ok && isCPU(cpu) {
			return ArchTuple{r.abi, r.libc, r.os, cpu}, true
		}
	}
	return ArchTuple{}, false
}

// wildcardTuple is dpkg's debwildcard_to_debtuple: a pattern with a part
// "any" is a wildcard whose parts are the tuple's last ones ("linux-any"
// is any-any-linux-any, "gnu-any-any" any-gnu-any-any, "any" all four);
// another pattern is an architecture name. ok is false for a name dpkg
// does not know.
func wildcardTuple(pattern string) (t ArchTuple, ok bool) {
	var parts [4]string
	n := 0
	rest := pattern
	for n < 3 {
		p, r, found := strings.Cut(rest, "-")
		if !found {
			break
		}
		parts[n], rest = p, r
		n++
	}
	parts[n] = rest
	n++
	wild := false
	for _, p := range parts[:n] {
		if p == "any" {
			wild = true
		}
	}
	if !wild {
		return ArchTupleOf(pattern)
	}
	switch n {
	case 4:
		return ArchTuple{parts[0], parts[1], parts[2], parts[3]}, true
	case 3:
		return ArchTuple{"any", parts[0], parts[1], parts[2]}, true
	case 2:
		return ArchTuple{"any", "any", parts[0], parts[1]}, true
	}
	return ArchTuple{"any", "any", "any", "any"}, true
}

func partIs(real, pattern string) bool {
	return pattern == "any" || pattern == real
}

// ArchIs reports whether the Debian architecture arch matches pattern,
// an architecture name or an architecture wildcard, as dpkg's debarch_is
// (dpkg-architecture -a ARCH -i PATTERN) decides: "any" matches every
// architecture; "linux-any", "hurd-any", "any-amd64", "any-i386" (i386
// and hurd-i386), "gnu-any-any" (every GNU libc) match the architectures
// whose tuple (ArchTupleOf) has those parts; a name matches itself and
// its "linux-" spelling. A pattern naming a part no architecture has
// ("gnu-any": gnu is a libc, not an OS), or an unknown name, matches
// nothing but itself, and an unknown architecture matches only itself
// and "any".
func ArchIs(arch, pattern string) bool {
	if pattern == arch || pattern == "any" {
		return true
	}
	if !strings.Contains(pattern, "any") && !strings.HasPrefix(pattern, "linux-") && !strings.HasPrefix(arch, "linux-") {
		// Two different plain names: dpkg's table gives every
		// architecture one name but for its "linux-" spelling.
		return false
	}
	real, ok := ArchTupleOf(arch)
	if !ok {
		return false
	}
	want, ok := wildcardTuple(pattern)
	if !ok {
		return false
	}
	return partIs(real.ABI, want.ABI) && partIs(real.Libc, want.Libc) &&
		partIs(real.OS, want.OS) && partIs(real.CPU, want.CPU)
}
