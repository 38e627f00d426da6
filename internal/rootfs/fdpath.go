package rootfs

import (
	"fmt"
	"os"
	"strings"
)

// FDPath returns a path that reaches the open directory d without
// resolving its name again, /proc/self/fd/N, for code that takes paths
// (a fetcher, atomicfile): whatever is renamed or swapped for a link
// meanwhile, a name under it stays in d. Without /proc (or when that path
// is not d), it returns fallback, the directory's path as checked.
func FDPath(d *os.File, fallback string) string {
	p := fmt.Sprintf("/proc/self/fd/%d", d.Fd())
	a, err := os.Stat(p)
	if err != nil {
		return fallback
	}
	if b, err := d.Stat(); err != nil || !os.SameFile(a, b) {
		return fallback
	}
	return p
}

// pathsNamedError is an error whose text names files by their host paths
// rather than by the FDPath paths the code that failed was given; Unwrap
// returns the error as it was, so errors.Is and errors.As see what they
// saw (an *fs.PathError in it keeps the descriptor's path).
type pathsNamedError struct {
	err error
	msg string
}

func (e *pathsNamedError) Error() string { return e.msg }
func (e *pathsNamedError) Unwrap() error { return e.err }

// HostPaths returns err with every FDPath path of dirs (that path -> the
// directory's host path) in its text written as the host path, and err
// itself when its text names none.
func HostPaths(err error, dirs map[string]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	out := msg
	for at, host := range dirs {
		if at != "" && at != host {
			out = replacePath(out, at, host)
		}
	}
	if out == msg {
		return err
	}
	return &pathsNamedError{err: err, msg: out}
}

// replacePath replaces each descriptor path at (/proc/self/fd/N) in s by
// host: at itself and the paths under it (/proc/self/fd/7/x), never a
// longer number (/proc/self/fd/71).
func replacePath(s, at, host string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, at)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(at)
		if end < len(s) && '0' <= s[end] && s[end] <= '9' {
			b.WriteString(s[:end])
		} else {
			b.WriteString(s[:i])
			b.WriteString(host)
		}
		s = s[end:]
	}
}
