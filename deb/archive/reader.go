package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
)

// DefaultMaxControlSize caps the decompressed size of control.tar. Real
// control archives are a few KiB; the cap turns a decompression bomb into an
// error instead of an exhausted machine.
const DefaultMaxControlSize = 64 << 20

// maxDebianBinary caps the debian-binary member, which holds "2.0\n".
const maxDebianBinary = 1024

// Member names and the compressions dpkg accepts for each.
const (
	memberDebianBinary = "debian-binary"
	memberControl      = "control.tar"
	memberData         = "data.tar"
	memberSignature    = "_gpgorigin"
)

// ReadOptions configures a Reader.
type ReadOptions struct {
	// Name identifies the package in errors, usually its path.
	Name string
	// MaxControlSize caps control.tar's decompressed size; 0 means
	// DefaultMaxControlSize.
	MaxControlSize int64
	// MaxDataSize caps data.tar's decompressed size (the tar stream, all
	// of its compressed streams together); 0 means no cap. An installer
	// derives it from Installed-Size and the free space (SetMaxDataSize),
	// so a small package that expands without end is refused at the cap
	// instead of filling the disk.
	MaxDataSize int64
	// Decoder decodes the data member; the zero value uses the pure-Go
	// decoders, compress.SystemDecoder() the host's xz, which is about
	// twice as fast. The control member, small, is always decoded in Go.
	Decoder compress.Decoder
}

// Reader reads a .deb sequentially from an io.Reader: first the control
// member (Control), then, if wanted, the data member as a stream of entries
// (Data). Reading only the control never decompresses data.tar.
type Reader struct {
	opts ReadOptions
	ar   *arReader
	ctl  *Control
	data *DataReader
	err  error // sticky: once the archive is found bad, every call says so
}

// NewReader returns a Reader of the package in r. When r is an os.File (any
// io.Seeker), member sizes are checked against the file size up front.
func NewReader(r io.Reader, opts ReadOptions) *Reader {
	if opts.MaxControlSize <= 0 {
		opts.MaxControlSize = DefaultMaxControlSize
	}
	return &Reader{opts: opts, ar: newArReader(r)}
}

// SetMaxDataSize sets ReadOptions.MaxDataSize; call it before Data, after
// Control when the control part (its Installed-Size) decides it.
func (r *Reader) SetMaxDataSize(max int64) { r.opts.MaxDataSize = max }

// ReadControl reads the control part of the package in r; name is used in
// errors. The data member is neither read nor decompressed.
func ReadControl(r io.Reader, name string) (*Control, error) {
	return NewReader(r, ReadOptions{Name: name}).Control()
}

// fail records err as the Reader's sticky error, as an *Error naming the
// file and member (filled into an *Error that lacks them).
func (r *Reader) fail(member string, err error) error {
	var ae *Error
	if errors.As(err, &ae) {
		if ae.File == "" {
			ae.File = r.opts.Name
		}
		if ae.Member == "" {
			ae.Member = member
		}
		r.err = err
		return err
	}
	r.err = &Error{File: r.opts.Name, Member: member, Err: err}
	return r.err
}

// entryFail is fail for a problem with one tar entry of a member.
func (r *Reader) entryFail(member, entry string, err error) error {
	return r.fail(member, &Error{Entry: entry, Err: err})
}

// nextMember wraps arReader.next with the package's error context.
func (r *Reader) nextMember() (*arHeader, error) {
	h, err := r.ar.next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, r.fail("", err)
	}
	return h, nil
}

// Control reads debian-binary and control.tar (skipping '_' members between
// them, as dpkg does) and returns the parsed control part. Calling it again
// returns the same result.
func (r *Reader) Control() (*Control, error) {
	if r.ctl != nil {
		return r.ctl, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	h, err := r.nextMember()
	if err == io.EOF {
		return nil, r.fail("", fmt.Errorf("%w: ar archive has no members", ErrNotDeb))
	}
	if err != nil {
		return nil, err
	}
	if h.Name != memberDebianBinary {
		return nil, r.fail(h.Name, fmt.Errorf("%w: first member is %q, want %q", ErrNotDeb, h.Name, memberDebianBinary))
	}
	format, err := r.readDebianBinary(h)
	if err != nil {
		return nil, r.fail(h.Name, err)
	}
	for {
		h, err = r.nextMember()
		if err == io.EOF {
			return nil, r.fail("", fmt.Errorf("%w: no %s member", ErrMemberOrder, memberControl))
		}
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(h.Name, "_"):
			continue
		case strings.HasPrefix(h.Name, memberControl):
			f, ok := controlCompression(h.Name[len(memberControl):])
			if !ok {
				return nil, r.fail(h.Name, fmt.Errorf("%w: unknown compression for the control member", ErrNotDeb))
			}
			ctl, err := r.readControlMember(h, f)
			if err != nil {
				return nil, err
			}
			ctl.Format = format
			ctl.Member = h.Name
			r.ctl = ctl
			return ctl, nil
		case strings.HasPrefix(h.Name, memberData):
			return nil, r.fail(h.Name, fmt.Errorf("%w: data member before %s", ErrMemberOrder, memberControl))
		default:
			return nil, r.fail(h.Name, fmt.Errorf("%w: unexpected member before %s", ErrMemberOrder, memberControl))
		}
	}
}

// readDebianBinary checks the format version the way dpkg-deb does: the
// first line must be "2.<minor>".
func (r *Reader) readDebianBinary(h *arHeader) (string, error) {
	if h.Size > maxDebianBinary {
		return "", fmt.Errorf("%w: %d bytes, a format version is a few", ErrFormatVersion, h.Size)
	}
	buf := make([]byte, h.Size)
	if _, err := io.ReadFull(r.ar, buf); err != nil {
		return "", fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	line, _, found := bytes.Cut(buf, []byte("\n"))
	if !found {
		return "", fmt.Errorf("%w: %q has no newline", ErrFormatVersion, buf)
	}
	major, minor, ok := bytes.Cut(line, []byte("."))
	if !ok || string(major) != "2" || len(minor) == 0 || !allDigits(minor) {
		return "", fmt.Errorf("%w: %q (want 2.x)", ErrFormatVersion, line)
	}
	return string(line), nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// controlCompression maps a control member's suffix to its format; dpkg
// accepts none, gzip, xz and zstd there (not bzip2).
func controlCompression(ext string) (compress.Format, bool) {
	switch ext {
	case "":
		return compress.None, true
	case ".gz":
		return compress.Gzip, true
	case ".xz":
		return compress.Xz, true
	case ".zst":
		return compress.Zstd, true
	}
	return "", false
}

// dataCompression maps a data member's suffix to its format.
func dataCompression(ext string) (compress.Format, bool) {
	if ext == ".bz2" {
		return compress.Bzip2, true
	}
	return controlCompression(ext)
}

// cappedReader fails with ErrTooLarge once more than max bytes were read.
type cappedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		// Probe for one more byte to tell "exactly max" from "more".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: decompresses to more than %d bytes", ErrTooLarge, c.max)
		}
		return 0, err
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (r *Reader) readControlMember(h *arHeader, f compress.Format) (*Control, error) {
	var src io.Reader = r.ar
	if f == compress.Xz && h.Size <= smallControl {
		// Read the member whole and decode it with a dictionary its own
		// size (compress.DecodeXZSmall says why); any other stream goes
		// to the general decoder, from the same bytes.
		data, err := io.ReadAll(r.ar)
		if err != nil {
			return nil, r.fail(h.Name, err)
		}
		if out, ok := compress.DecodeXZSmall(data, r.opts.MaxControlSize); ok {
			return r.readControlTar(h, f, io.NopCloser(bytes.NewReader(out)))
		}
		src = bytes.NewReader(data)
	}
	dec, err := compress.NewReaderFormat(src, f)
	if err != nil {
		return nil, r.fail(h.Name, decodeErr(err))
	}
	return r.readControlTar(h, f, dec)
}

// smallControl is the largest compressed control member read into memory
// whole for DecodeXZSmall; real ones are a few KB.
const smallControl = 4 << 20

// readControlTar reads the control tarball from dec, which it closes.
func (r *Reader) readControlTar(h *arHeader, f compress.Format, dec io.ReadCloser) (*Control, error) {
	defer dec.Close()
	tr := tar.NewReader(&cappedReader{r: dec, max: r.opts.MaxControlSize})
	ctl := &Control{Compression: f}
	seen := map[string]bool{}
	for {
		th, err := tr.Next()
		if errors.Is(err, tar.ErrInsecurePath) {
			err = nil // names are checked below
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, r.fail(h.Name, decodeErr(err))
		}
		if th.Typeflag == tar.TypeDir {
			continue // "./" itself; dpkg ignores directories here
		}
		name, err := controlFileName(th.Name)
		if err != nil {
			return nil, r.entryFail(h.Name, th.Name, err)
		}
		if th.Typeflag != tar.TypeReg {
			return nil, r.entryFail(h.Name, th.Name,
				fmt.Errorf("%w: control archive entries must be regular files (type %q)", ErrBadEntry, th.Typeflag))
		}
		if seen[name] {
			return nil, r.entryFail(h.Name, th.Name, fmt.Errorf("%w: duplicate control file", ErrBadEntry))
		}
		seen[name] = true
		if th.Size > r.opts.MaxControlSize {
			return nil, r.entryFail(h.Name, th.Name, fmt.Errorf("%w: %d bytes", ErrTooLarge, th.Size))
		}
		// th.Size is bounded by the cap just checked, and the capped
		// reader stops a lying header from reading more.
		buf := bytes.NewBuffer(make([]byte, 0, th.Size))
		if _, err := io.Copy(buf, tr); err != nil {
			return nil, r.entryFail(h.Name, th.Name, decodeErr(err))
		}
		ctl.Files = append(ctl.Files, ControlFile{Name: name, Mode: modeFromTar(th.Mode), Data: buf.Bytes()})
	}
	if err := ctl.parse(); err != nil {
		return nil, r.fail(h.Name, err)
	}
	return ctl, nil
}

// decodeErr classifies decoder and tar errors: a stream cut short is
// ErrTruncated; anything else keeps its own message.
func decodeErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	}
	return err
}

// controlFileName turns "./postinst" into "postinst" and refuses names with
// a directory part: dpkg's control area is flat.
func controlFileName(p string) (string, error) {
	n := strings.TrimPrefix(p, "./")
	if n == "" || n == "." || n == ".." || strings.Contains(n, "/") {
		return "", fmt.Errorf("%w: control file name %q is not a plain name", ErrBadEntry, p)
	}
	return n, nil
}

// Data advances to the data member and returns its entries as a stream.
// It reads the control part first if Control was not called. It can be
// called once; the DataReader must be closed.
func (r *Reader) Data() (*DataReader, error) {
	if r.data != nil {
		return nil, fmt.Errorf("%s: data member already opened", r.opts.Name)
	}
	if _, err := r.Control(); err != nil {
		return nil, err
	}
	for {
		h, err := r.nextMember()
		if err == io.EOF {
			return nil, r.fail("", fmt.Errorf("%w: no %s member", ErrMemberOrder, memberData))
		}
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(h.Name, "_"):
			continue
		case strings.HasPrefix(h.Name, memberData):
			f, ok := dataCompression(h.Name[len(memberData):])
			if !ok {
				return nil, r.fail(h.Name, fmt.Errorf("%w: unknown compression for the data member", ErrNotDeb))
			}
			dec, err := r.opts.Decoder.NewReaderFormat(r.ar, f)
			if err != nil {
				return nil, r.fail(h.Name, decodeErr(err))
			}
			var in io.Reader = dec
			if r.opts.MaxDataSize > 0 {
				in = &cappedReader{r: dec, max: r.opts.MaxDataSize}
			}
			r.data = &DataReader{file: r.opts.Name, member: h.Name, format: f, raw: r.ar, dec: dec, in: in, tr: tar.NewReader(in)}
			return r.data, nil
		case strings.HasPrefix(h.Name, memberControl):
			return nil, r.fail(h.Name, fmt.Errorf("%w: second control member", ErrMemberOrder))
		default:
			return nil, r.fail(h.Name, fmt.Errorf("%w: unexpected member before %s", ErrMemberOrder, memberData))
		}
	}
}

// Control is the control part of a package: control.tar's files, with the
// ones dpkg interprets already parsed.
type Control struct {
	// Format is debian-binary's version line, "2.0" in practice.
	Format string
	// Member is the control member's name, e.g. "control.tar.xz".
	Member      string
	Compression compress.Format
	// Fields is the parsed "control" file.
	Fields *control.Stanza
	// Control is the raw "control" file.
	Control []byte
	// Conffiles lists DEBIAN/conffiles in order.
	Conffiles []Conffile
	// MD5Sums maps a path as md5sums writes it (relative, no "./":
	// "usr/bin/hello") to its lowercase hex MD5.
	MD5Sums map[string]string
	// Files holds every regular file of control.tar in archive order,
	// including control, md5sums, conffiles and the maintainer scripts.
	Files []ControlFile
}

// ControlFile is one file of control.tar.
type ControlFile struct {
	Name string // "postinst", without "./"
	Mode fs.FileMode
	Data []byte
}

// Conffile is one line of DEBIAN/conffiles.
type Conffile struct {
	Path string // absolute, e.g. "/etc/protocols"
	// Flags are the words before the path, e.g. "remove-on-upgrade".
	Flags []string
}

// File returns the control file called name ("postinst"), or nil.
func (c *Control) File(name string) *ControlFile {
	for i := range c.Files {
		if c.Files[i].Name == name {
			return &c.Files[i]
		}
	}
	return nil
}

// Scripts returns the maintainer scripts present (preinst, postinst, prerm,
// postrm, config) in that order.
func (c *Control) Scripts() []ControlFile {
	var out []ControlFile
	for _, n := range [...]string{"preinst", "postinst", "prerm", "postrm", "config"} {
		if f := c.File(n); f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// parse decodes control, conffiles and md5sums from Files.
func (c *Control) parse() error {
	cf := c.File("control")
	if cf == nil {
		return fmt.Errorf("%w: control.tar has no control file", ErrNotDeb)
	}
	c.Control = cf.Data
	st, err := control.ParseOne(cf.Data)
	if err != nil {
		return &Error{Entry: "control", Err: err}
	}
	c.Fields = st
	if f := c.File("conffiles"); f != nil {
		list, err := parseConffiles(f.Data)
		if err != nil {
			return &Error{Entry: "conffiles", Err: err}
		}
		c.Conffiles = list
	}
	if f := c.File("md5sums"); f != nil {
		sums, err := parseMD5Sums(f.Data)
		if err != nil {
			return &Error{Entry: "md5sums", Err: err}
		}
		c.MD5Sums = sums
	}
	return nil
}

// parseConffiles reads "[flag...] /path" lines; blank lines are skipped.
func parseConffiles(data []byte) ([]Conffile, error) {
	var out []Conffile
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		var c Conffile
		for !strings.HasPrefix(line, "/") {
			flag, rest, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not an absolute path", n, line)
			}
			c.Flags = append(c.Flags, flag)
			line = strings.TrimLeft(rest, " ")
		}
		c.Path = line
		out = append(out, c)
	}
	return out, sc.Err()
}

// parseMD5Sums reads md5sum(1) output: "<32 hex>  <path>" ("*" binary
// marker tolerated). Paths are keyed without a leading "./" or "/".
func parseMD5Sums(data []byte) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		sum, rest, ok := strings.Cut(line, " ")
		if !ok || len(sum) != 32 || !isHex(sum) {
			return nil, fmt.Errorf("line %d: %q is not \"<md5>  <path>\"", n, line)
		}
		if strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "*") {
			rest = rest[1:]
		}
		p := strings.TrimPrefix(strings.TrimPrefix(rest, "./"), "/")
		if p == "" {
			return nil, fmt.Errorf("line %d: no path", n)
		}
		out[p] = strings.ToLower(sum)
	}
	return out, sc.Err()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
