// Package version parses Debian package versions and orders them exactly as
// dpkg does.
//
// A version is [epoch:]upstream[-revision]. Comparison is by epoch
// (numerically), then upstream, then revision, each of the last two with
// dpkg's verrevcmp: alternating runs of non-digits, compared character by
// character with '~' before everything (even the end of the string) and
// letters before other characters, and runs of digits, compared numerically.
// See docs/formats.md for the whole order with examples.
package version

import (
	"fmt"
	"strings"
)

// Version is a parsed Debian version. The zero value is the empty version,
// which sorts before every other version.
type Version struct {
	// Epoch is the number before the first colon; 0 when absent.
	Epoch uint32
	// Upstream is the part between the epoch and the last hyphen.
	Upstream string
	// Revision is the part after the last hyphen; "" when absent.
	Revision string
}

// ParseError reports a string that is not a valid Debian version.
type ParseError struct {
	// Input is the string that was parsed.
	Input string
	// Reason says what is wrong, in dpkg's words where dpkg has them.
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid version %q: %s", e.Input, e.Reason)
}

// maxEpoch is dpkg's limit (INT_MAX).
const maxEpoch = 1<<31 - 1

// Parse parses s as dpkg does, but strictly: what dpkg accepts with a
// warning (an upstream part that does not start with a digit, characters
// outside the allowed set) is an error here, because Debian policy forbids
// it and the archive contains none. Leading and trailing blanks are ignored.
func Parse(s string) (Version, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, &ParseError{in, "version string is empty"}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return Version{}, &ParseError{in, "version string has embedded spaces"}
		}
	}
	var v Version
	if colon := strings.IndexByte(s, ':'); colon >= 0 {
		ep := s[:colon]
		if ep == "" {
			return Version{}, &ParseError{in, "epoch in version is empty"}
		}
		var n uint64
		for i := 0; i < len(ep); i++ {
			c := ep[i]
			if c < '0' || c > '9' {
				if c == '-' && i == 0 {
					return Version{}, &ParseError{in, "epoch in version is negative"}
				}
				return Version{}, &ParseError{in, "epoch in version is not number"}
			}
			n = n*10 + uint64(c-'0')
			if n > maxEpoch {
				return Version{}, &ParseError{in, "epoch in version is too big"}
			}
		}
		v.Epoch = uint32(n)
		s = s[colon+1:]
		if s == "" {
			return Version{}, &ParseError{in, "nothing after colon in version number"}
		}
	}
	if dash := strings.LastIndexByte(s, '-'); dash >= 0 {
		v.Revision = s[dash+1:]
		if v.Revision == "" {
			return Version{}, &ParseError{in, "revision number is empty"}
		}
		s = s[:dash]
	}
	v.Upstream = s
	if s == "" {
		return Version{}, &ParseError{in, "version number is empty"}
	}
	if !isDigit(s[0]) {
		return Version{}, &ParseError{in, "version number does not start with digit"}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !isAlpha(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return Version{}, &ParseError{in, fmt.Sprintf("invalid character %q in version number", c)}
		}
	}
	for i := 0; i < len(v.Revision); i++ {
		if c := v.Revision[i]; !isDigit(c) && !isAlpha(c) && !strings.ContainsRune(".+~", rune(c)) {
			return Version{}, &ParseError{in, fmt.Sprintf("invalid character %q in revision number", c)}
		}
	}
	return v, nil
}

// MustParse is Parse for constants in tests and tables; it panics on an
// invalid version and must never see user input.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String returns the version in canonical form: the epoch only when it is
// not zero (or when the upstream part holds a colon, which would otherwise
// read as an epoch), the revision only when present.
func (v Version) String() string {
	if v.Epoch == 0 && strings.IndexByte(v.Upstream, ':') < 0 {
		if v.Revision == "" {
			return v.Upstream
		}
		return v.Upstream + "-" + v.Revision
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%s", v.Epoch, v.Upstream)
	if v.Revision != "" {
		b.WriteByte('-')
		b.WriteString(v.Revision)
	}
	return b.String()
}

// IsZero reports whether v is the empty version.
func (v Version) IsZero() bool {
	return v.Epoch == 0 && v.Upstream == "" && v.Revision == ""
}

// Compare returns -1, 0 or +1 as a sorts before, equal to, or after b in
// dpkg's order.
func Compare(a, b Version) int {
	if a.Epoch != b.Epoch {
		if a.Epoch < b.Epoch {
			return -1
		}
		return 1
	}
	if c := verrevcmp(a.Upstream, b.Upstream); c != 0 {
		return c
	}
	return verrevcmp(a.Revision, b.Revision)
}

// CompareStrings parses both strings and compares them.
func CompareStrings(a, b string) (int, error) {
	va, err := Parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, err
	}
	return Compare(va, vb), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// order is the weight of a non-digit character: '~' below the end of the
// string, the end (0) below letters, letters below everything else.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	}
	return int(c) + 256
}

// verrevcmp is dpkg's comparison of an upstream version or revision.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && j < len(b) && isDigit(a[i]) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
