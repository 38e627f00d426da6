package archive

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ContentsFormatter formats entries as `dpkg-deb --contents` prints them
// (that is GNU tar's `tar -tv` listing):
//
//	drwxr-xr-x root/root         0 2023-01-09 18:47 ./usr/
//	lrwxrwxrwx root/root         0 2023-01-09 18:47 ./usr/lib/libz.so.1 -> libz.so.1.2.13
//
// Like tar, it widens the owner/size column (and the date column) when an
// entry needs more room and keeps that width for later lines, so one
// formatter must be used for one whole listing. Names are escaped as tar
// does in a UTF-8 locale: printable UTF-8 is kept, control characters and
// invalid bytes become backslash escapes.
type ContentsFormatter struct {
	// Location is the time zone of the dates; nil means UTC. dpkg-deb
	// uses the local zone (TZ).
	Location  *time.Location
	ugsWidth  int
	dateWidth int
}

// Line returns the listing line for e, without the trailing newline.
func (f *ContentsFormatter) Line(e *Entry) string {
	if f.ugsWidth == 0 {
		f.ugsWidth = 19                       // tar's UGSWIDTH
		f.dateWidth = len("YYYY-MM-DD HH:MM") // tar's initial datewidth
	}
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	user := e.Uname
	if user == "" {
		user = strconv.Itoa(e.Uid)
	}
	group := e.Gname
	if group == "" {
		group = strconv.Itoa(e.Gid)
	}
	var size string
	switch e.Type {
	case TypeChar, TypeBlock:
		size = strconv.FormatInt(e.Devmajor, 10) + "," + strconv.FormatInt(e.Devminor, 10)
	default:
		size = strconv.FormatInt(e.Size, 10)
	}
	pad := len(user) + 1 + len(group) + 1 + len(size)
	if pad > f.ugsWidth {
		f.ugsWidth = pad
	}
	t := e.ModTime.In(loc)
	stamp := fmt.Sprintf("%04d-%02d-%02d %02d:%02d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())
	if len(stamp) > f.dateWidth {
		f.dateWidth = len(stamp)
	}
	var b strings.Builder
	b.WriteString(modeString(e.Type, e.Mode))
	b.WriteByte(' ')
	b.WriteString(user)
	b.WriteByte('/')
	b.WriteString(group)
	b.WriteByte(' ')
	b.WriteString(strings.Repeat(" ", f.ugsWidth-pad))
	b.WriteString(size)
	b.WriteByte(' ')
	b.WriteString(stamp)
	b.WriteString(strings.Repeat(" ", f.dateWidth-len(stamp)))
	b.WriteByte(' ')
	b.WriteString(tarQuote(e.Path))
	switch e.Type {
	case TypeSymlink:
		b.WriteString(" -> ")
		b.WriteString(tarQuote(e.Linkname))
	case TypeHardlink:
		b.WriteString(" link to ")
		b.WriteString(tarQuote(e.Linkname))
	}
	return b.String()
}

// modeString renders type and permissions as tar does ('h' for a hard
// link, s/S and t/T for the special bits).
func modeString(t EntryType, m fs.FileMode) string {
	var b [10]byte
	switch t {
	case TypeHardlink:
		b[0] = 'h'
	case TypeSymlink:
		b[0] = 'l'
	case TypeDir:
		b[0] = 'd'
	case TypeChar:
		b[0] = 'c'
	case TypeBlock:
		b[0] = 'b'
	case TypeFifo:
		b[0] = 'p'
	default:
		b[0] = '-'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) != 0 {
			b[1+i] = rwx[i]
		} else {
			b[1+i] = '-'
		}
	}
	special := func(i int, set bool, on, off byte) {
		if !set {
			return
		}
		if b[i] == '-' {
			b[i] = off
		} else {
			b[i] = on
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b[:])
}

// tarQuote escapes a name as GNU tar's default "escape" quoting style does
// in a UTF-8 locale.
func tarQuote(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '\\' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\%03o", s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\a':
			b.WriteString(`\a`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\v':
			b.WriteString(`\v`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && !unicode.IsPrint(r)):
			for j := 0; j < n; j++ {
				fmt.Fprintf(&b, "\\%03o", s[i+j])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
