package index

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
)

// Input is one verified Packages file to index.
type Input struct {
	// Origin labels the input's packages (deb.Package.Origin): a source's
	// identifier, a suite. Inputs of one source share it.
	Origin string
	// Path is the Packages file, plain or compressed (xz, gzip, zstd, bzip2).
	Path string
	// SHA256 is the hex SHA256 of the file at Path, as its verified Release
	// lists it. The cache file is named after it, and Build refuses a file
	// whose content does not match it.
	SHA256 string
	// Decoder decodes Path; the zero value uses the pure-Go decoders,
	// compress.SystemDecoder() the host's xz (twice as fast). The cache
	// file is the same either way.
	Decoder compress.Decoder
	// Open, when set, opens the file (Path then names it in messages
	// only): a root's lists are opened through the root's os.Root
	// (lists.IndexInputs). Nil opens Path.
	Open func() (*os.File, error)
}

// HashMismatchError reports a Packages file whose content does not match the
// SHA256 its Input gives: the file changed after it was verified.
type HashMismatchError struct {
	Path      string
	Want, Got string
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("index %s: SHA256 %s, want %s (changed since it was verified)", e.Path, e.Got, e.Want)
}

// SkipError reports a stanza of a Packages file that does not decode as a
// binary package; Build leaves it out of the index, as apt does.
type SkipError struct {
	Path string
	Err  error
}

func (e *SkipError) Error() string { return fmt.Sprintf("%s: skipped: %v", e.Path, e.Err) }

func (e *SkipError) Unwrap() error { return e.Err }

// Report says what Build did.
type Report struct {
	// Built lists the inputs whose cache file was (re)written; the others
	// were already up to date.
	Built []Input
	// Skipped holds one *SkipError per stanza left out.
	Skipped []error
}

// originDir is the folder of one origin's cache files: content addressing
// is per origin so that a source's stale caches can be removed without
// touching another source's.
func originDir(cacheDir, origin string) string {
	var b strings.Builder
	for _, c := range []byte(origin) {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 64 || s != origin || s == "" || s[0] == '.' {
		// Escaping lost information, or the name is awkward: add a hash so
		// that two origins never share a folder.
		h := sha256.Sum256([]byte(origin))
		s = fmt.Sprintf("%.40s-%x", s, h[:8])
	}
	return filepath.Join(cacheDir, s)
}

const cacheSuffix = ".idx"

// CachePath returns where the cache file of in lives under cacheDir.
func CachePath(cacheDir string, in Input) string {
	return filepath.Join(originDir(cacheDir, in.Origin), fmt.Sprintf("%s.v%d%s", strings.ToLower(in.SHA256), FormatVersion, cacheSuffix))
}

// Build makes sure every input has a valid cache file under cacheDir,
// writing those that are missing or corrupt (in parallel, each to a
// temporary file renamed into place), and removes the other cache files of
// the inputs' origins. It returns what it did; stanzas that do not decode are
// reported in Report.Skipped, not as an error.
func Build(ctx context.Context, cacheDir string, inputs []Input) (*Report, error) {
	rep := &Report{}
	var (
		wg      sync.WaitGroup
		errs    = make([]error, len(inputs))
		built   = make([]bool, len(inputs))
		skipped = make([][]error, len(inputs))
		sem     = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for i, in := range inputs {
		if err := checkInput(in); err != nil {
			return nil, err
		}
		path := CachePath(cacheDir, in)
		if m, err := mapFile(path, in.SHA256); err == nil {
			_ = m.close()
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			skipped[i], errs[i] = buildOne(ctx, path, in)
			built[i] = errs[i] == nil
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, in := range inputs {
		if built[i] {
			rep.Built = append(rep.Built, in)
			rep.Skipped = append(rep.Skipped, skipped[i]...)
		}
	}
	return rep, removeStale(cacheDir, inputs)
}

func checkInput(in Input) error {
	if len(in.SHA256) != 64 {
		return fmt.Errorf("index %s: SHA256 %q is not 64 hex digits", in.Path, in.SHA256)
	}
	if _, err := hex.DecodeString(in.SHA256); err != nil {
		return fmt.Errorf("index %s: SHA256 %q: %w", in.Path, in.SHA256, err)
	}
	return nil
}

// removeStale deletes the cache files (and leftover temporary files) in the
// inputs' origin folders that no input refers to.
func removeStale(cacheDir string, inputs []Input) error {
	keep := map[string]bool{}
	dirs := map[string]bool{}
	for _, in := range inputs {
		p := CachePath(cacheDir, in)
		keep[p] = true
		dirs[filepath.Dir(p)] = true
	}
	var errs []error
	for dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("remove stale index caches: %w", err))
			continue
		}
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			if keep[p] || !strings.HasSuffix(e.Name(), cacheSuffix) && !abandonedTemp(e) {
				continue
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove stale index cache: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// abandonedTemp reports a temporary file left by a build that crashed. Its
// name carries the builder's process id: while that process lives, a
// concurrent build may still be writing the file.
func abandonedTemp(e os.DirEntry) bool {
	rest, ok := strings.CutPrefix(e.Name(), tempPrefix)
	if !ok {
		return false
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return true
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// tempPrefix starts the names of cache files being written.
const tempPrefix = ".tmp-"

// buildOne parses in.Path, checks its SHA256 and writes the cache file at
// path atomically.
func buildOne(ctx context.Context, path string, in Input) ([]error, error) {
	open := in.Open
	if open == nil {
		open = func() (*os.File, error) { return os.Open(in.Path) }
	}
	f, err := open()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	zr, format, err := in.Decoder.NewReader(tee)
	if err != nil {
		return nil, fmt.Errorf("index: read %s: %w", in.Path, err)
	}
	var (
		src    io.Reader = zr
		pr     *io.PipeReader
		wg     sync.WaitGroup
		derr   error
		closed bool
	)
	closeDecoder := func() error {
		if closed {
			return nil
		}
		closed = true
		return zr.Close()
	}
	defer func() {
		// When parsing stopped first: stop the copying goroutine, then
		// the decoder (a child xz is killed).
		if pr != nil {
			pr.CloseWithError(errAbandoned)
		}
		wg.Wait()
		closeDecoder()
	}()
	if format != compress.Xz || in.Decoder.XZCommand == "" {
		// Decompress in a goroutine of its own: on two cores the Go
		// decoder and the parser run side by side. The host's xz runs
		// beside the parser anyway, in its own process; one more hop
		// through a pipe would only cost goroutine switches and a copy.
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		src = pr
		wg.Go(func() {
			_, derr = io.CopyBuffer(pw, zr, make([]byte, 1<<20))
			pw.CloseWithError(derr)
		})
	}
	rd := control.NewReaderName(src, in.Path)
	defer rd.Close()
	var w writer
	if fi, err := f.Stat(); err == nil {
		w.presize(stanzaHint(fi.Size(), format))
	}
	var skipped []error
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("index %s: %w", in.Path, err)
			}
		}
		st, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		if err := w.add(st); err != nil {
			skipped = append(skipped, &SkipError{Path: in.Path, Err: err})
		}
	}
	wg.Wait()
	if err := closeDecoder(); derr == nil {
		derr = err
	}
	if derr == nil {
		// The decompressor may stop before the end of the file; hash
		// all of it.
		_, derr = io.Copy(io.Discard, tee)
	}
	if derr != nil {
		return nil, fmt.Errorf("index: read %s: %w", in.Path, derr)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(in.SHA256) {
		return nil, &HashMismatchError{Path: in.Path, Want: strings.ToLower(in.SHA256), Got: got}
	}
	sum, _ := hex.DecodeString(in.SHA256)
	head, parts, err := w.finish(sum)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", in.Path, err)
	}
	if err := writeAtomic(path, append([][]byte{head}, parts...)); err != nil {
		return nil, err
	}
	return skipped, nil
}

// errAbandoned stops the decompressing goroutine when parsing stops first.
var errAbandoned = errors.New("parsing stopped")

// writeAtomic writes the concatenation of parts to a temporary file beside
// path and renames it into place, so a reader sees either no file or the
// whole file. It does not fsync: a cache torn by a crash fails Load's checks
// and is rebuilt.
func writeAtomic(path string, parts [][]byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("index cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, fmt.Sprintf("%s%d-*", tempPrefix, os.Getpid()))
	if err != nil {
		return fmt.Errorf("index cache: %w", err)
	}
	var werr error
	for _, p := range parts {
		if _, werr = tmp.Write(p); werr != nil {
			break
		}
	}
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index cache %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index cache %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("index cache %s: %w", path, err)
	}
	return nil
}

// writer accumulates one cache file.
type writer struct {
	text textBuf
	// stanza is the canonical text of a stanza that does not fit in the
	// text's current chunk.
	stanza []byte
	pkgs   []pkgRec
	// small holds each package's name, version, architecture and summary,
	// and the provided versions, back to back: one buffer instead of four
	// strings per package. finish turns it into one string.
	small []byte
	// provIDs numbers the distinct provided names in order of appearance;
	// provs[id] is the name and its postings, which provRecs holds,
	// chained through provRec.next. (Package names are grouped by
	// sorting, in finish.)
	provIDs  map[string]uint32
	provs    []group
	provRecs []provRec
	// seen is the scratch set of names one stanza's Provides has given so
	// far; seenMap takes over for long lists.
	seen    []string
	seenMap map[string]struct{}
}

// stanzaHint guesses how many stanzas a Packages file of size bytes holds
// in format, from Debian's indexes (bookworm main: 63,440 stanzas, 50 MB
// plain, 8.8 MB as xz, 11.5 MB as gzip). It is only a hint for presizing:
// a wrong guess costs a map or slice growth, or some memory.
func stanzaHint(size int64, format compress.Format) int {
	per := int64(800)
	switch format {
	case compress.Xz, compress.Bzip2, compress.Zstd:
		per = 128
	case compress.Gzip:
		per = 180
	}
	// Capped: a file this size would be ten times Debian's largest index,
	// and a guess should not allocate much up front.
	return int(min(size/per, 1<<18))
}

// presize makes room for about n packages, so that the records and the
// small strings do not grow step by step.
func (w *writer) presize(n int) {
	w.pkgs = make([]pkgRec, 0, n)
	w.provIDs = map[string]uint32{}
	w.small = make([]byte, 0, 80*n) // bookworm main: 78 bytes a package
}

// span locates a string in writer.small.
type span struct{ off, n uint32 }

// group is a provided name's postings, chained in order of appearance
// through provRec.next.
type group struct {
	name        string
	first, last uint32
	count       uint32
}

type pkgRec struct {
	textOff, textLen, line uint32
	debKey                 uint32
	name, ver, arch, desc  span
}

type provRec struct {
	pkg  uint32
	ver  span
	next uint32 // the next provRec of the same provided name
}

// addSmall appends s to w.small.
func (w *writer) addSmall(s string) span {
	o := len(w.small)
	w.small = append(w.small, s...)
	return span{uint32(o), uint32(len(s))}
}

// intern returns the number of name in ids, adding it to groups when it is
// new. The name is cloned only then: the map must not pin a stanza's text.
func intern(ids map[string]uint32, groups *[]group, name string) uint32 {
	if id, ok := ids[name]; ok {
		return id
	}
	id := uint32(len(*groups))
	name = strings.Clone(name)
	ids[name] = id
	*groups = append(*groups, group{name: name})
	return id
}

// sawProvided reports whether the stanza being added already provided
// name, and records that it has.
func (w *writer) sawProvided(name string) bool {
	if w.seenMap != nil {
		if _, ok := w.seenMap[name]; ok {
			return true
		}
		w.seenMap[name] = struct{}{}
		return false
	}
	for _, s := range w.seen {
		if s == name {
			return true
		}
	}
	w.seen = append(w.seen, name)
	if len(w.seen) > 32 {
		// A long list: a quadratic scan would not do.
		w.seenMap = make(map[string]struct{}, 2*len(w.seen))
		for _, s := range w.seen {
			w.seenMap[s] = struct{}{}
		}
	}
	return false
}

// add appends one stanza, or reports why it cannot be a package.
func (w *writer) add(st *control.Stanza) error {
	info, err := checkStanza(st)
	if err != nil {
		return err
	}
	if err := checkWritable(st); err != nil {
		return fmt.Errorf("%s: %w", info.String(), err)
	}
	if len(w.pkgs) == maxFileSize/pkgSize {
		return fmt.Errorf("%s: too many packages for one cache file", info.String())
	}
	if w.provIDs == nil {
		w.provIDs = map[string]uint32{}
	}
	off := w.text.n
	n := w.text.appendCanonical(st, &w.stanza)
	num := uint32(len(w.pkgs))
	desc, _, _ := strings.Cut(info.description, "\n")
	w.pkgs = append(w.pkgs, pkgRec{
		textOff: uint32(off), textLen: uint32(n),
		line: uint32(max(st.Line, 0)), debKey: debKey(info.sha256),
		name: w.addSmall(info.name),
		ver:  w.addSmall(info.rawVersion), arch: w.addSmall(info.arch), desc: w.addSmall(desc),
	})
	w.seen = w.seen[:0]
	w.seenMap = nil
	for _, rel := range info.provides {
		for _, alt := range rel {
			if w.sawProvided(alt.Name) {
				continue
			}
			var v span
			if !alt.Version.IsZero() {
				o := len(w.small)
				w.small = appendVersion(w.small, alt.Version)
				v = span{uint32(o), uint32(len(w.small) - o)}
			}
			pid := intern(w.provIDs, &w.provs, alt.Name)
			r := uint32(len(w.provRecs))
			w.provRecs = append(w.provRecs, provRec{pkg: num, ver: v})
			link(&w.provs[pid], r, func(i uint32) *uint32 { return &w.provRecs[i].next })
		}
	}
	clear(w.seen) // do not pin the stanza's text
	return nil
}

// link appends posting i to g's chain; next returns a posting's link.
func link(g *group, i uint32, next func(uint32) *uint32) {
	if g.count == 0 {
		g.first = i
	} else {
		*next(g.last) = i
	}
	g.last = i
	g.count++
}

// postings calls f with each posting of g in order.
func (g *group) postings(next func(uint32) uint32, f func(uint32)) {
	i := g.first
	for k := uint32(0); k < g.count; k++ {
		f(i)
		i = next(i)
	}
}

// debKey condenses a package's SHA256 field; 0 means it has none.
func debKey(sha string) uint32 {
	if sha == "" {
		return 0
	}
	// Lower-case ASCII in a buffer on the stack: strings.ToLower would
	// scan the string and, for an upper-case digest, allocate.
	var buf [64]byte
	if len(sha) <= len(buf) {
		b := buf[:len(sha)]
		for i := 0; i < len(sha); i++ {
			c := sha[i]
			if c >= 0x80 {
				b = nil // not ASCII: strings.ToLower's rules
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if b != nil {
			return max(crc32.Checksum(b, castagnoli()), 1)
		}
	}
	return max(crc32.Checksum([]byte(strings.ToLower(sha)), castagnoli()), 1)
}

// appendCanonical appends st as control.AppendStanza does; st has passed
// control.CheckStanza, so decodeCanonical reads it back exactly.
func appendCanonical(dst []byte, st *control.Stanza) []byte {
	for _, f := range st.Fields {
		dst = append(dst, f.Name...)
		dst = append(dst, ':')
		if f.Value != "" && f.Value[0] != '\n' {
			dst = append(dst, ' ')
		}
		dst = append(dst, f.Value...)
		dst = append(dst, '\n')
	}
	return dst
}

// canonicalLen is the length of appendCanonical's output for st.
func canonicalLen(st *control.Stanza) int {
	n := 0
	for _, f := range st.Fields {
		n += len(f.Name) + len(f.Value) + 2
		if f.Value != "" && f.Value[0] != '\n' {
			n++
		}
	}
	return n
}

// appendCanonical appends st's canonical text and returns its length. It
// writes straight into the current chunk when the stanza fits, else
// through scratch (which it may grow).
func (b *textBuf) appendCanonical(st *control.Stanza, scratch *[]byte) int {
	n := canonicalLen(st)
	if k := len(b.chunks); k > 0 && len(b.chunks[k-1])+n <= textChunk {
		b.chunks[k-1] = appendCanonical(b.chunks[k-1], st)
		b.n += n
		return n
	}
	*scratch = appendCanonical((*scratch)[:0], st)
	b.write(*scratch)
	return n
}

// pool is the small-string section, each distinct string stored once.
type pool struct {
	b   []byte
	off map[string]uint32
}

func (p *pool) add(s string) (off, n uint32) {
	if s == "" {
		return 0, 0
	}
	if o, ok := p.off[s]; ok {
		return o, uint32(len(s))
	}
	o := uint32(len(p.b))
	p.b = append(p.b, s...)
	p.off[s] = o
	return o, uint32(len(s))
}

// memo remembers the last string added to a pool through it.
type memo struct {
	s      string
	off, n uint32
	ok     bool
}

// add is p.add(s), without the map lookup when s is the last string.
func (m *memo) add(p *pool, s string) (off, n uint32) {
	if !m.ok || s != m.s {
		m.off, m.n = p.add(s)
		m.s, m.ok = s, true
	}
	return m.off, m.n
}

// textChunk is the size of textBuf's chunks.
const textChunk = 4 << 20

// textBuf holds the stanza texts, the bulk of a cache file (50 MB for
// bookworm main), in chunks of a fixed size: one growing slice would hold
// the text twice while it grows, and copying it into one buffer with the
// rest of the file would hold it twice again (grey update peaked at 290 MB
// that way).
type textBuf struct {
	chunks [][]byte
	n      int
}

func (b *textBuf) write(p []byte) {
	for len(p) > 0 {
		if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1]) == textChunk {
			b.chunks = append(b.chunks, make([]byte, 0, textChunk))
		}
		last := &b.chunks[len(b.chunks)-1]
		k := min(len(p), textChunk-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		b.n += k
	}
}

// finish lays out the file: it returns the header with the block table, and
// the sections' bytes in file order, to be written one after the other.
func (w *writer) finish(sha []byte) (head []byte, parts [][]byte, err error) {
	// Every distinct version, architecture and summary, each name once:
	// presized, the pool's map never grows.
	sp := &pool{off: make(map[string]uint32, len(w.provs)+3*len(w.pkgs))}
	// The pool holds at most the small strings and the provided names.
	n := len(w.small)
	for i := range w.provs {
		n += len(w.provs[i].name)
	}
	sp.b = make([]byte, 0, n)
	small := string(w.small)
	str := func(s span) string { return small[s.off : s.off+s.n] }
	u32 := binary.LittleEndian.AppendUint32

	// The packages in order of name, then of number: each name's run is
	// its postings, in file order. Sorting costs less than a map from
	// name to postings while adding (Debian's indexes are mostly in order).
	type byName struct {
		name string
		pkg  uint32
	}
	order := make([]byName, len(w.pkgs))
	for i := range order {
		order[i] = byName{str(w.pkgs[i].name), uint32(i)}
	}
	slices.SortFunc(order, func(a, b byName) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return cmp.Compare(a.pkg, b.pkg)
	})
	var names []string
	nameRank := make([]uint32, len(w.pkgs)) // by package: its name's position
	var secs [numSecs][]byte
	secs[secNPost] = make([]byte, 0, 4*len(w.pkgs))
	for start := 0; start < len(order); {
		name := order[start].name
		end := start + 1
		for end < len(order) && order[end].name == name {
			end++
		}
		o, l := sp.add(name)
		secs[secNames] = u32(u32(u32(u32(secs[secNames], o), l), uint32(start)), uint32(end-start))
		for _, e := range order[start:end] {
			secs[secNPost] = u32(secs[secNPost], e.pkg)
			nameRank[e.pkg] = uint32(len(names))
		}
		names = append(names, name)
		start = end
	}
	provs, _ := sortedGroups(w.provs)
	secs[secProvs] = make([]byte, 0, nameSize*len(provs))
	secs[secPPost] = make([]byte, 0, ppostSize*len(w.provRecs))
	provNext := func(i uint32) uint32 { return w.provRecs[i].next }
	for _, gi := range provs {
		g := &w.provs[gi]
		o, l := sp.add(g.name)
		secs[secProvs] = u32(u32(u32(u32(secs[secProvs], o), l), uint32(len(secs[secPPost])/ppostSize)), g.count)
		g.postings(provNext, func(i uint32) {
			p := &w.provRecs[i]
			vo, vl := sp.add(str(p.ver))
			secs[secPPost] = u32(u32(u32(secs[secPPost], p.pkg), vo), vl)
		})
	}
	secs[secPkgs] = make([]byte, 0, len(w.pkgs)*pkgSize)
	// Neighbours mostly share their architecture and often their version
	// (one source's binaries): skip the map for a repeat.
	var lastVer, lastArch memo
	for i := range w.pkgs {
		p := &w.pkgs[i]
		b := u32(u32(u32(secs[secPkgs], p.textOff), p.textLen), p.line)
		b = u32(b, nameRank[i])
		vo, vl := lastVer.add(sp, str(p.ver))
		ao, al := lastArch.add(sp, str(p.arch))
		do, dl := sp.add(str(p.desc))
		secs[secPkgs] = u32(u32(u32(u32(u32(u32(u32(b, vo), vl), ao), al), do), dl), p.debKey)
	}
	secs[secStr] = sp.b
	secs[secNHash] = hashTable(names)
	secs[secPHash] = hashTable(groupNames(w.provs, provs))

	dataLen := uint64(0)
	for i, sec := range secs {
		if i == secText {
			dataLen += uint64(w.text.n)
			continue
		}
		dataLen += uint64(len(sec))
	}
	nblocks := blockCount(dataLen)
	data := headerSize + 4*nblocks
	size := data + dataLen
	if size > maxFileSize {
		return nil, nil, fmt.Errorf("cache file would be %d bytes, more than the format's %d", size, uint64(maxFileSize))
	}
	head = make([]byte, data)
	copy(head, magic)
	binary.LittleEndian.PutUint32(head[offVersion:], FormatVersion)
	binary.LittleEndian.PutUint32(head[offCount:], uint32(len(w.pkgs)))
	binary.LittleEndian.PutUint64(head[offLength:], size)
	binary.LittleEndian.PutUint32(head[offNames:], uint32(len(names)))
	binary.LittleEndian.PutUint32(head[offProvs:], uint32(len(provs)))
	copy(head[offSHA256:offSHA256+32], sha)
	binary.LittleEndian.PutUint32(head[offBlocks:], uint32(nblocks))
	off := data
	for i, sec := range secs {
		n := uint64(len(sec))
		if i == secText {
			n = uint64(w.text.n)
			parts = append(parts, w.text.chunks...)
		} else {
			parts = append(parts, sec)
		}
		binary.LittleEndian.PutUint32(head[offSecs+8*i:], uint32(off))
		binary.LittleEndian.PutUint32(head[offSecs+8*i+4:], uint32(n))
		off += n
	}
	// The block checksums run over the sections as they will lie in the
	// file, one block after the other, across the parts' boundaries.
	t := castagnoli()
	var crc uint32
	fill, k := 0, 0
	for _, p := range parts {
		for len(p) > 0 {
			m := min(len(p), blockSize-fill)
			crc = crc32.Update(crc, t, p[:m])
			p, fill = p[m:], fill+m
			if fill == blockSize {
				binary.LittleEndian.PutUint32(head[headerSize+4*k:], crc)
				crc, fill, k = 0, 0, k+1
			}
		}
	}
	if fill > 0 {
		binary.LittleEndian.PutUint32(head[headerSize+4*k:], crc)
	}
	binary.LittleEndian.PutUint32(head[offCRC:], headerChecksum(head, int(nblocks)))
	return head, parts, nil
}

// sortedGroups returns the groups' numbers in the order of their names,
// and each group's position in that order.
func sortedGroups(groups []group) (order, rank []uint32) {
	order = make([]uint32, len(groups))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(groups[a].name, groups[b].name) })
	rank = make([]uint32, len(groups))
	for i, g := range order {
		rank[g] = uint32(i)
	}
	return order, rank
}

// groupNames returns the names of groups in the given order.
func groupNames(groups []group, order []uint32) []string {
	out := make([]string, len(order))
	for i, g := range order {
		out[i] = groups[g].name
	}
	return out
}
