package control

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/greypm/grey/deb/compress"
)

// DefaultMaxStanzaSize bounds the bytes one stanza (or one line between
// stanzas) may take, so a corrupt or hostile index cannot make the reader
// buffer without limit. The largest real stanzas are a few hundred KiB.
const DefaultMaxStanzaSize = 64 << 20

// MaxFields bounds the fields of one stanza, so that a stanza of millions
// of tiny fields cannot make the reader's bookkeeping outgrow its input many
// times over. Real stanzas have a few dozen.
const MaxFields = 1 << 16

// chunkSize is how much the reader asks its source for at once: large reads
// amortise the decompressor's and the line scanner's per-call costs.
const chunkSize = 64 << 10

// errTooLarge is turned into a *SyntaxError by the caller, who knows the line.
var errTooLarge = errors.New("too large")

// Reader reads stanzas one at a time from a deb822 stream.
type Reader struct {
	in     io.Reader // the caller's stream, until open
	src    io.Reader // the decompressed stream
	closer io.Closer // the decompressor, when there is one
	name   string
	max    int
	opened bool
	plain  bool  // do not look for compression (ParseOne)
	err    error // sticky: every call after a failure or io.EOF returns it

	buf      []byte
	pos, end int  // buf[pos:end] is read but not yet consumed
	eof      bool // src has returned io.EOF
	line     int  // lines consumed before buf[pos]

	fields []fieldPos // scratch for the stanza being read
	table  []slot     // open-addressing set of the stanza's field names
	gen    uint32     // table slots of other stanzas have an older gen
}

// fieldPos locates one field in the stanza's bytes; offsets are relative to
// the stanza's first byte so that compacting the buffer does not move them.
type fieldPos struct {
	nameStart, nameEnd int
	valStart, valEnd   int
	line               int
	hash               uint32
	// dirty: the field's last line so far ends with bytes the value drops
	// (a CR, or trailing blanks on the first line). build: the value is not
	// a plain substring of the stanza and must be assembled.
	dirty, build bool
}

type slot struct {
	gen, hash uint32
	idx       int32
}

// NewReader returns a Reader of the stanzas in r, which may be plain text or
// compressed with xz, gzip, zstd or bzip2 (recognised by magic bytes).
// Errors name the input "line N"; use NewReaderName to name the file.
func NewReader(r io.Reader) *Reader {
	return NewReaderName(r, "")
}

// NewReaderName is NewReader with the file name that syntax and read errors
// should carry.
func NewReaderName(r io.Reader, name string) *Reader {
	return &Reader{in: r, name: name, max: DefaultMaxStanzaSize}
}

// SetMaxStanzaSize changes the limit on the bytes of one stanza (and of one
// line between stanzas) from DefaultMaxStanzaSize to n. It must be called
// before the first Next.
func (r *Reader) SetMaxStanzaSize(n int) {
	if n > 0 {
		r.max = n
	}
}

// Next returns the next stanza, or io.EOF after the last one. The stanza and
// its strings are not reused by later calls. After an error (a *SyntaxError,
// a read error, or io.EOF) every later call returns the same error.
func (r *Reader) Next() (*Stanza, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.opened {
		if err := r.open(); err != nil {
			r.fail(err)
			return nil, err
		}
	}
	st, err := r.next()
	if err != nil {
		r.fail(err)
		return nil, err
	}
	return st, nil
}

// Close releases the decompressor, if any; it does not close the underlying
// reader. The reader also releases it by itself once Next has returned an
// error or io.EOF.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("control: read after Close")
	}
	return r.release()
}

func (r *Reader) release() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

func (r *Reader) fail(err error) {
	r.err = err
	r.buf, r.fields, r.table = nil, nil, nil
	// A decoder's Close error adds nothing once reading has already ended.
	_ = r.release()
}

func (r *Reader) displayName() string {
	if r.name == "" {
		return "control data"
	}
	return r.name
}

func (r *Reader) syntax(line int, format string, args ...any) error {
	return &SyntaxError{File: r.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// open detects the compression. It calls compress.Detect and compress.Open
// rather than compress.NewReader so that it can require bzip2's full block
// magic: "BZh" alone is also how a plain field name may begin.
func (r *Reader) open() error {
	r.opened = true
	br := bufio.NewReaderSize(r.in, 64<<10)
	head, err := br.Peek(10)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("read %s: %w", r.displayName(), err)
	}
	f := compress.Detect(head)
	if r.plain || f == compress.Bzip2 && !isBzip2(head) {
		f = compress.None
	}
	r.in = nil
	if f == compress.None {
		r.src = br
	} else {
		rc, err := compress.Open(br, f)
		if err != nil {
			return fmt.Errorf("open %s: %w", r.displayName(), err)
		}
		r.src, r.closer = rc, rc
	}
	r.buf = make([]byte, min(chunkSize, r.max+1))
	r.table = make([]slot, 64)
	// Skip a UTF-8 byte order mark.
	for r.end < 3 && !r.eof {
		if err := r.fill(); err != nil {
			return err
		}
	}
	if bytes.HasPrefix(r.buf[:r.end], []byte("\xEF\xBB\xBF")) {
		r.pos = 3
	}
	return nil
}

// isBzip2 checks the stream magic "BZh1".."BZh9" followed by a block or
// end-of-stream magic.
func isBzip2(head []byte) bool {
	if len(head) < 10 || head[3] < '1' || head[3] > '9' {
		return false
	}
	m := head[4:10]
	return bytes.Equal(m, []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) ||
		bytes.Equal(m, []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})
}

// fill moves the unconsumed bytes to the front of the buffer, grows it when
// it is full, and reads more. It returns errTooLarge when the unconsumed
// bytes already exceed the limit.
func (r *Reader) fill() error {
	if r.pos > 0 {
		r.end = copy(r.buf, r.buf[r.pos:r.end])
		r.pos = 0
	}
	if r.end > r.max {
		return errTooLarge
	}
	if r.end == len(r.buf) {
		nb := make([]byte, min(2*len(r.buf), r.max+1))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err == io.EOF {
			r.eof = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", r.displayName(), err)
		}
		if n > 0 {
			return nil
		}
	}
	return fmt.Errorf("read %s: %w", r.displayName(), io.ErrNoProgress)
}

// lineAt finds the line starting at r.pos+off. It returns the offsets,
// relative to r.pos, of the line's end (its '\n', or the end of input) and of
// the next line's start; ok is false when off is at the end of the input.
// line is the line number that a size error should carry.
func (r *Reader) lineAt(off, line int) (end, next int, ok bool, err error) {
	scanned := off
	for {
		if i := bytes.IndexByte(r.buf[r.pos+scanned:r.end], '\n'); i >= 0 {
			end = scanned + i
			return end, end + 1, true, nil
		}
		scanned = r.end - r.pos
		if r.eof {
			if off == scanned {
				return 0, 0, false, nil
			}
			return scanned, scanned, true, nil
		}
		if err := r.fill(); err != nil {
			if err == errTooLarge {
				return 0, 0, false, r.syntax(line, "stanza or line longer than %d bytes", r.max)
			}
			return 0, 0, false, err
		}
	}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

func (r *Reader) next() (*Stanza, error) {
	// Skip blank and comment lines up to the stanza's first line.
	for {
		end, next, ok, err := r.lineAt(0, r.line+1)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, io.EOF
		}
		b := r.buf[r.pos : r.pos+end]
		if len(b) > 0 && b[0] != '#' && !isBlank(b) {
			break
		}
		r.pos += next
		r.line++
	}

	startLine := r.line + 1
	lineNo := startLine
	r.gen++
	if r.gen == 0 {
		clear(r.table)
		r.gen = 1
	}
	fields := r.fields[:0]
	cur := -1              // index of the field being continued
	commentInside := false // a comment line since cur's last line
	off, last := 0, 0      // current line's start; end of the last field line
	consumed, lines := 0, 0
	for {
		end, next, ok, err := r.lineAt(off, startLine)
		if err != nil {
			return nil, err
		}
		if !ok {
			consumed, lines = off, lineNo-startLine
			break
		}
		b := r.buf[r.pos+off : r.pos+end]
		if len(b) == 0 || (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') && isBlank(b) {
			consumed, lines = next, lineNo-startLine+1
			break
		}
		switch b[0] {
		case '#':
			if cur >= 0 {
				commentInside = true
			}
		case ' ', '\t':
			if cur < 0 {
				return nil, r.syntax(lineNo, "continuation line before the first field")
			}
			f := &fields[cur]
			if f.dirty || commentInside {
				f.build = true
			}
			f.valEnd = end
			f.dirty = b[len(b)-1] == '\r'
			commentInside = false
			last = end
		default:
			if len(fields) == MaxFields {
				return nil, r.syntax(lineNo, "more than %d fields in one stanza", MaxFields)
			}
			f, err := r.fieldLine(b, off, lineNo, fields)
			if err != nil {
				return nil, err
			}
			fields = append(fields, f)
			cur = len(fields) - 1
			commentInside = false
			last = end
		}
		off = next
		lineNo++
	}
	r.fields = fields
	if last > r.max {
		return nil, r.syntax(startLine, "stanza longer than %d bytes", r.max)
	}

	// ONE string per stanza; names and values are substrings of it.
	text := string(r.buf[r.pos : r.pos+last])
	r.pos += consumed
	r.line += lines
	out := make([]Field, len(fields))
	for i := range fields {
		f := &fields[i]
		out[i].Name = text[f.nameStart:f.nameEnd]
		raw := text[f.valStart:f.valEnd]
		if f.build {
			out[i].Value = buildValue(raw)
		} else {
			out[i].Value = trimRight(raw)
		}
	}
	return &Stanza{Fields: out, Line: startLine}, nil
}

// fieldLine parses a "Name: value" line b found at offset off of the stanza,
// checking the name and that no earlier field of the stanza has it.
func (r *Reader) fieldLine(b []byte, off, lineNo int, fields []fieldPos) (fieldPos, error) {
	colon := bytes.IndexByte(b, ':')
	if colon < 0 {
		return fieldPos{}, r.syntax(lineNo, "expected \"Name: value\", found no ':' in %q", clip(b))
	}
	if colon == 0 {
		return fieldPos{}, r.syntax(lineNo, "empty field name")
	}
	if b[0] == '-' {
		return fieldPos{}, r.syntax(lineNo, "field name %q starts with '-'", clip(b[:colon]))
	}
	// FNV-1a of the lower-cased name, computed while checking its bytes.
	h := uint32(2166136261)
	for _, c := range b[:colon] {
		if c <= ' ' || c >= 0x7f {
			return fieldPos{}, r.syntax(lineNo, "invalid character %q in field name %q", c, clip(b[:colon]))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint32(c)) * 16777619
	}
	v := colon + 1
	for v < len(b) && (b[v] == ' ' || b[v] == '\t') {
		v++
	}
	e := len(b)
	for e > v && (b[e-1] == ' ' || b[e-1] == '\t' || b[e-1] == '\r') {
		e--
	}
	f := fieldPos{
		nameStart: off, nameEnd: off + colon,
		valStart: off + v, valEnd: off + e,
		line: lineNo, hash: h, dirty: e != len(b),
	}
	if dup := r.remember(f, fields); dup >= 0 {
		return fieldPos{}, r.syntax(lineNo, "duplicate field %q (first on line %d)", clip(b[:colon]), fields[dup].line)
	}
	return f, nil
}

// remember adds f, about to become fields[len(fields)], to the stanza's name
// set, or returns the index of an earlier field with the same name.
func (r *Reader) remember(f fieldPos, fields []fieldPos) int {
	if 2*(len(fields)+1) > len(r.table) {
		r.table = make([]slot, 2*len(r.table))
		for i := range fields {
			r.insert(fields[i].hash, i)
		}
	}
	mask := uint32(len(r.table) - 1)
	name := r.buf[r.pos+f.nameStart : r.pos+f.nameEnd]
	for i := f.hash & mask; ; i = (i + 1) & mask {
		s := &r.table[i]
		if s.gen != r.gen {
			*s = slot{gen: r.gen, hash: f.hash, idx: int32(len(fields))}
			return -1
		}
		if s.hash == f.hash {
			g := &fields[s.idx]
			if bytes.EqualFold(name, r.buf[r.pos+g.nameStart:r.pos+g.nameEnd]) {
				return int(s.idx)
			}
		}
	}
}

func (r *Reader) insert(h uint32, idx int) {
	mask := uint32(len(r.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if s := &r.table[i]; s.gen != r.gen {
			*s = slot{gen: r.gen, hash: h, idx: int32(idx)}
			return
		}
	}
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

func trimRight(s string) string {
	e := len(s)
	for e > 0 && (s[e-1] == ' ' || s[e-1] == '\t' || s[e-1] == '\r') {
		e--
	}
	return s[:e]
}

// buildValue assembles a value whose raw bytes are not already in canonical
// form: the first line loses its trailing blanks, continuation lines their
// CRs, and comment lines between continuation lines are dropped.
func buildValue(raw string) string {
	var sb strings.Builder
	sb.Grow(len(raw))
	line, raw, more := strings.Cut(raw, "\n")
	sb.WriteString(trimRight(line))
	for more {
		line, raw, more = strings.Cut(raw, "\n")
		if len(line) > 0 && line[0] == '#' {
			continue
		}
		sb.WriteByte('\n')
		sb.WriteString(strings.TrimRight(line, "\r"))
	}
	return trimRight(sb.String())
}
