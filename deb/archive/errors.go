package archive

import (
	"errors"
	"strings"
)

// Sentinel errors; test with errors.Is. Every error the package returns for
// bad input is an *Error wrapping one of these or a decoder's error.
var (
	// ErrNotDeb: the input is not an ar archive holding a Debian package.
	ErrNotDeb = errors.New("not a Debian binary package")
	// ErrTruncated: the file ends before a header or member does.
	ErrTruncated = errors.New("truncated")
	// ErrMemberOrder: members are missing, duplicated or out of dpkg's order.
	ErrMemberOrder = errors.New("bad member order")
	// ErrFormatVersion: debian-binary does not hold a 2.x format version.
	ErrFormatVersion = errors.New("unsupported package format version")
	// ErrTooLarge: control.tar (or a file in it), or data.tar, decompresses
	// past its cap (ReadOptions.MaxControlSize, MaxDataSize).
	ErrTooLarge = errors.New("too large")
	// ErrBadEntry: a tar entry that dpkg would refuse (unknown type, bad header).
	ErrBadEntry = errors.New("bad archive entry")
	// ErrUnsigned: the package has no _gpgorigin signature member.
	ErrUnsigned = errors.New("package is not signed")
	// ErrBadSignature: the signature does not verify against the keyring.
	ErrBadSignature = errors.New("bad signature")
)

// Error is a problem with one .deb file, naming the file, the ar member and
// the tar entry where it was found.
type Error struct {
	File   string // the name the reader was given, usually a path
	Member string // ar member, e.g. "control.tar.xz"; empty for the archive itself
	Entry  string // path inside the member's tar, when known
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("<package>")
	}
	if e.Member != "" {
		b.WriteString(": member ")
		b.WriteString(e.Member)
	}
	if e.Entry != "" {
		b.WriteString(": entry ")
		b.WriteString(e.Entry)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
