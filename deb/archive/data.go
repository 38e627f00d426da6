package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/greypm/grey/deb/compress"
)

// EntryType is the kind of file a data.tar entry creates.
type EntryType uint8

// The entry types dpkg accepts in data.tar.
const (
	TypeRegular EntryType = iota + 1
	TypeHardlink
	TypeSymlink
	TypeDir
	TypeChar
	TypeBlock
	TypeFifo
)

func (t EntryType) String() string {
	switch t {
	case TypeRegular:
		return "regular"
	case TypeHardlink:
		return "hardlink"
	case TypeSymlink:
		return "symlink"
	case TypeDir:
		return "dir"
	case TypeChar:
		return "char"
	case TypeBlock:
		return "block"
	case TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one file of a package's data.tar, as the archive states it.
type Entry struct {
	// Path is the name exactly as stored, e.g. "./usr/bin/hello" or "./usr/".
	Path string
	Type EntryType
	// Mode holds the permission bits and fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky; the file type is in Type, not here.
	Mode         fs.FileMode
	Uid, Gid     int
	Uname, Gname string
	// Size is the content length of a regular file (0 for other types).
	Size    int64
	ModTime time.Time
	// Linkname is a symlink's target, or the archive path a hard link
	// refers to.
	Linkname           string
	Devmajor, Devminor int64
	// Body reads the content of a regular file; it is valid until the next
	// call to DataReader.Next.
	Body io.Reader
}

// RelPath returns the entry's path relative to the root it is unpacked
// into, without "./" or a trailing slash ("" for the root itself). It
// refuses absolute paths and any ".." component, so that no entry can
// name a file outside the root.
func (e *Entry) RelPath() (string, error) {
	return safeRelPath(e.Path)
}

func safeRelPath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrBadEntry, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: path %q leaves the root", ErrBadEntry, p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// DataReader iterates over the entries of data.tar, decompressing as it goes,
// in the manner of archive/tar: Next advances, Read reads the current
// regular file. Nothing is buffered beyond the decoder's window.
type DataReader struct {
	file, member string
	format       compress.Format
	raw          io.Reader // the ar member, compressed
	dec          io.ReadCloser
	in           io.Reader // dec, capped at ReadOptions.MaxDataSize
	tr           *tar.Reader
	cur          *Entry
	err          error
}

// Compression returns the compression of the data member.
func (d *DataReader) Compression() compress.Format { return d.format }

// Member returns the ar member name, e.g. "data.tar.xz".
func (d *DataReader) Member() string { return d.member }

// Next advances to the next entry. It returns io.EOF after the last one.
func (d *DataReader) Next() (*Entry, error) {
	if d.err != nil {
		return nil, d.err
	}
	h, err := d.tr.Next()
	if errors.Is(err, tar.ErrInsecurePath) {
		// The header is valid; path safety is decided by the installer
		// through Entry.RelPath, so the listing still shows the entry.
		err = nil
	}
	if err == io.EOF {
		if err := d.finish(); err != nil {
			d.err = d.wrap("", err)
			return nil, d.err
		}
		d.err = io.EOF
		return nil, io.EOF
	}
	if err != nil {
		name := ""
		if d.cur != nil {
			name = "after " + d.cur.Path
		}
		d.err = d.wrap(name, tarErr(err))
		return nil, d.err
	}
	e, err := entryFromTar(h)
	if err != nil {
		d.err = d.wrap(h.Name, err)
		return nil, d.err
	}
	if e.Type == TypeRegular {
		e.Body = d
	} else {
		e.Body = strings.NewReader("")
	}
	d.cur = e
	return e, nil
}

// maxTrailer bounds what may follow the tar end marker inside the
// decompressed member: tar pads to a 10 KiB record, nothing needs more.
const maxTrailer = 1 << 20

// finish reads past the tar end marker to the end of the member, so that
// a package cut short after its last entry, or a compressed stream that
// fails its final check, is an error and not a silent success.
func (d *DataReader) finish() error {
	n, err := io.Copy(io.Discard, io.LimitReader(d.in, maxTrailer+1))
	if err != nil {
		return decodeErr(err)
	}
	if n > maxTrailer {
		return fmt.Errorf("%w: more than %d bytes after the end of the tar archive", ErrBadEntry, maxTrailer)
	}
	if _, err := io.Copy(io.Discard, d.raw); err != nil {
		return decodeErr(err)
	}
	return nil
}

// Read reads the current entry's content.
func (d *DataReader) Read(p []byte) (int, error) {
	if d.cur == nil {
		return 0, io.EOF
	}
	n, err := d.tr.Read(p)
	if err != nil && err != io.EOF {
		err = d.wrap(d.cur.Path, tarErr(err))
	}
	return n, err
}

// Close releases the decompressor. It does not close the underlying file.
func (d *DataReader) Close() error {
	if d.dec == nil {
		return nil
	}
	err := d.dec.Close()
	d.dec = nil
	return err
}

func (d *DataReader) wrap(entry string, err error) error {
	return &Error{File: d.file, Member: d.member, Entry: entry, Err: err}
}

// tarErr turns a cut-short stream into ErrTruncated so that callers can
// tell a truncated package from a corrupt one.
func tarErr(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// entryFromTar maps a tar header to an Entry, refusing the types dpkg does
// not unpack.
func entryFromTar(h *tar.Header) (*Entry, error) {
	e := &Entry{
		Path:     h.Name,
		Mode:     modeFromTar(h.Mode),
		Uid:      h.Uid,
		Gid:      h.Gid,
		Uname:    h.Uname,
		Gname:    h.Gname,
		ModTime:  h.ModTime,
		Linkname: h.Linkname,
		Devmajor: h.Devmajor,
		Devminor: h.Devminor,
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		// archive/tar already reports the old '\x00' type as TypeReg.
		e.Type = TypeRegular
		e.Size = h.Size
	case tar.TypeLink:
		e.Type = TypeHardlink
	case tar.TypeSymlink:
		e.Type = TypeSymlink
	case tar.TypeDir:
		e.Type = TypeDir
	case tar.TypeChar:
		e.Type = TypeChar
	case tar.TypeBlock:
		e.Type = TypeBlock
	case tar.TypeFifo:
		e.Type = TypeFifo
	default:
		return nil, fmt.Errorf("%w: unknown tar entry type %q", ErrBadEntry, h.Typeflag)
	}
	if h.Size < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrBadEntry, h.Size)
	}
	if h.Name == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadEntry)
	}
	return e, nil
}

// modeFromTar converts the tar header's Unix mode bits.
func modeFromTar(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// TarMode is the inverse of modeFromTar: m's permission and special bits
// as a tar header's Mode holds them.
func TarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
