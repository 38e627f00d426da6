package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The ar format as dpkg reads and writes it: an 8-byte global header, then
// per member a 60-byte header followed by the content, padded with "\n" to an
// even offset.
const (
	arMagic      = "!<arch>\n"
	arHeaderSize = 60
	arFmag       = "`\n"
)

// arHeader is one decoded member header.
type arHeader struct {
	Name  string // normalized as dpkg does: trailing spaces and one trailing '/' removed
	Size  int64
	Mode  int64
	Mtime int64
}

// arReader reads the members of an ar archive sequentially. It never holds a
// member in memory: the current member is read through Read.
type arReader struct {
	r         io.Reader
	offset    int64 // bytes consumed from r so far
	total     int64 // size of the whole archive, or -1 when r cannot tell
	remaining int64 // unread bytes of the current member's content
	pad       int64 // padding byte still to skip after the current member
	cur       *arHeader
	started   bool
}

// newArReader wraps r. When r is an io.Seeker (an os.File), the archive's
// size is taken from it so that a header claiming more bytes than the file
// holds is refused before anything is read.
func newArReader(r io.Reader) *arReader {
	a := &arReader{r: r, total: -1}
	if s, ok := r.(io.Seeker); ok {
		if cur, err := s.Seek(0, io.SeekCurrent); err == nil {
			if end, err := s.Seek(0, io.SeekEnd); err == nil {
				if _, err := s.Seek(cur, io.SeekStart); err == nil {
					a.total = end - cur
				}
			}
		}
	}
	return a
}

func (a *arReader) readFull(p []byte) (int, error) {
	n, err := io.ReadFull(a.r, p)
	a.offset += int64(n)
	return n, err
}

// skip discards n bytes, seeking when the underlying reader can.
func (a *arReader) skip(n int64) error {
	if n == 0 {
		return nil
	}
	if s, ok := a.r.(io.Seeker); ok && a.total >= 0 {
		if a.offset+n > a.total {
			return io.ErrUnexpectedEOF
		}
		if _, err := s.Seek(n, io.SeekCurrent); err == nil {
			a.offset += n
			return nil
		}
	}
	m, err := io.CopyN(io.Discard, a.r, n)
	a.offset += m
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next advances to the next member, skipping whatever of the current one was
// not read. It returns io.EOF at a clean end of the archive.
func (a *arReader) next() (*arHeader, error) {
	if !a.started {
		a.started = true
		var magic [len(arMagic)]byte
		if n, err := a.readFull(magic[:]); err != nil {
			if n == 0 && err == io.EOF {
				return nil, fmt.Errorf("%w: empty file", ErrNotDeb)
			}
			return nil, fmt.Errorf("%w: too short for an ar archive", ErrNotDeb)
		}
		if string(magic[:]) != arMagic {
			return nil, fmt.Errorf("%w: no ar magic %q at the start", ErrNotDeb, arMagic)
		}
	}
	if a.cur != nil {
		if err := a.skip(a.remaining + a.pad); err != nil {
			return nil, fmt.Errorf("member %s: %w", a.cur.Name, ErrTruncated)
		}
		a.remaining, a.pad, a.cur = 0, 0, nil
	}
	var raw [arHeaderSize]byte
	n, err := a.readFull(raw[:])
	if err != nil {
		if n == 0 && err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: member header at offset %d cut short after %d of %d bytes", ErrTruncated, a.offset-int64(n), n, arHeaderSize)
	}
	h, err := parseArHeader(raw[:])
	if err != nil {
		return nil, fmt.Errorf("member header at offset %d: %w", a.offset-arHeaderSize, err)
	}
	if a.total >= 0 && h.Size > a.total-a.offset {
		return nil, fmt.Errorf("member %s: %w: header says %d bytes, only %d remain in the file", h.Name, ErrTruncated, h.Size, a.total-a.offset)
	}
	a.cur = h
	a.remaining = h.Size
	a.pad = h.Size & 1
	return h, nil
}

// Read reads the current member's content. A member that ends early (the
// file is truncated) is io.ErrUnexpectedEOF, never a silent short read.
func (a *arReader) Read(p []byte) (int, error) {
	if a.cur == nil || a.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > a.remaining {
		p = p[:a.remaining]
	}
	n, err := a.r.Read(p)
	a.offset += int64(n)
	a.remaining -= int64(n)
	if err == io.EOF {
		if a.remaining > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	if a.remaining == 0 && err == nil {
		return n, io.EOF
	}
	return n, err
}

// parseArHeader decodes a 60-byte header the way dpkg does: the size must be
// decimal digits (optionally space padded); the other numeric fields are
// informational and parsed leniently.
func parseArHeader(raw []byte) (*arHeader, error) {
	if string(raw[58:60]) != arFmag {
		return nil, fmt.Errorf("%w: bad member header magic %q", ErrNotDeb, raw[58:60])
	}
	name := normalizeArName(raw[0:16])
	if name == "" {
		return nil, fmt.Errorf("%w: member with an empty name", ErrNotDeb)
	}
	size, err := parseArSize(raw[48:58])
	if err != nil {
		return nil, fmt.Errorf("member %s: %w", name, err)
	}
	h := &arHeader{Name: name, Size: size}
	h.Mtime, _ = strconv.ParseInt(string(bytes.TrimSpace(raw[16:28])), 10, 64)
	h.Mode, _ = strconv.ParseInt(string(bytes.TrimSpace(raw[40:48])), 8, 64)
	return h, nil
}

// normalizeArName strips the space padding and the '/' terminator that
// GNU ar adds ("debian-binary/"); dpkg-deb writes the BSD form without it.
func normalizeArName(field []byte) string {
	name := bytes.TrimRight(field, " ")
	name = bytes.TrimSuffix(name, []byte("/"))
	return string(name)
}

// errBadSize reports a size field that is not a decimal number.
var errBadSize = errors.New("invalid member size")

func parseArSize(field []byte) (int64, error) {
	s := bytes.TrimLeft(field, " ")
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		if len(bytes.TrimRight(s[i:], " ")) != 0 {
			return 0, fmt.Errorf("%w %q", errBadSize, field)
		}
		s = s[:i]
	}
	if len(s) == 0 {
		return 0, fmt.Errorf("%w %q: empty", errBadSize, field)
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q: character %q", errBadSize, field, c)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// arWriter writes an ar archive in the form dpkg-deb produces: BSD-style
// space-padded names, uid and gid 0, mode 100644.
type arWriter struct {
	w       io.Writer
	started bool
}

// writeMember writes one member header, its content (exactly size bytes
// from r) and the padding.
func (a *arWriter) writeMember(name string, mtime int64, size int64, r io.Reader) error {
	if !a.started {
		if _, err := io.WriteString(a.w, arMagic); err != nil {
			return err
		}
		a.started = true
	}
	if len(name) > 16 {
		return fmt.Errorf("ar member name %q longer than 16 bytes", name)
	}
	hdr := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8s%-10d%s", name, mtime, 0, 0, "100644", size, arFmag)
	if len(hdr) != arHeaderSize {
		return fmt.Errorf("ar member %s: header field overflow (mtime %d, size %d)", name, mtime, size)
	}
	if _, err := io.WriteString(a.w, hdr); err != nil {
		return err
	}
	n, err := io.Copy(a.w, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("ar member %s: wrote %d bytes, header says %d", name, n, size)
	}
	if size&1 == 1 {
		if _, err := a.w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	return nil
}
