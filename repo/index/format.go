package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"unsafe"
)

// FormatVersion is the cache file format's version. It is part of every
// cache file's name and header, so a grey that writes another format never
// reads this one.
const FormatVersion = 5

// magic starts every cache file.
const magic = "GREYIDX\x00"

// Header layout. The header is followed by the block checksum table
// (nblocks u32 CRC-32Cs), then by the sections.
const (
	headerSize = 160
	offVersion = 8
	offCount   = 12 // packages
	offLength  = 16 // u64, the whole file
	offNames   = 24 // distinct names
	offProvs   = 28 // distinct provided names
	offSHA256  = 32 // of the Packages file the cache was built from
	offSecs    = 64 // numSecs × (offset u32, length u32), offsets from the file's start
	offCRC     = 136
	offBlocks  = 140 // number of checksummed blocks; 144-159 reserved, zero
)

// blockSize is the unit of lazy verification: the bytes after the block
// table are checksummed in blocks of this size, and a block is checked the
// first time anything in it is read. A query that touches a few blocks
// pays for those only, so Load costs the same for 40 packages or 60,000.
// One page: a resolver reads scattered stanzas (gnome's closure touches
// some 4,000 of them), and larger blocks made it checksum, and fault in,
// mostly bytes it never reads (16 KiB blocks: 8 ms of a 100 ms request).
const blockSize = 4 << 10

// Sections, in file order.
const (
	secPkgs  = iota // pkgSize bytes per package
	secNames        // nameSize bytes per distinct name, sorted by name
	secNPost        // u32 package numbers, the names' posting lists
	secProvs        // nameSize bytes per distinct provided name, sorted
	secPPost        // ppostSize bytes per (package, provided version)
	secStr          // small strings
	secText         // stanza texts
	secNHash        // hash table of the names: u32 slots, name index + 1 (0: empty)
	secPHash        // the same for the provided names
	numSecs
)

// Record layouts: u32 fields at these offsets.
const (
	pkgSize     = 44
	pTextOff    = 0
	pTextLen    = 4
	pLine       = 8
	pName       = 12 // index into the names table
	pVerOff     = 16 // version, in the string pool
	pVerLen     = 20
	pArchOff    = 24
	pArchLen    = 28
	pDescOff    = 32 // short description
	pDescLen    = 36
	pDebKey     = 40 // CRC-32C of the SHA256 field (0: none), to tell identical .debs apart without decoding
	nameSize    = 16
	nStrOff     = 0
	nStrLen     = 4
	nPostStart  = 8
	nPostCount  = 12
	ppostSize   = 12
	ppPkg       = 0
	ppVerOff    = 4
	ppVerLen    = 8
	maxFileSize = 1<<32 - 1
)

// CorruptError reports a cache file that fails a check. Load rebuilds such
// a file; a file found corrupt after Load (in a block read later) is
// removed, reported by Index.Err, and rebuilt by the next Load.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("index cache %s: corrupt: %s", e.Path, e.Reason)
}

// view is a cache file's bytes. Its header and block table are checked when
// it is opened; every other read goes through span, which checks bounds and
// the checksum of the blocks read. A failed check records a *CorruptError
// (see corrupt) and the read yields zero values, never a fault.
type view struct {
	b      []byte
	path   string
	n      int // packages
	nnames int
	nprovs int
	secs   [numSecs]struct{ off, n uint64 }
	sha    [32]byte
	data   uint64 // where the first block starts
	crcs   []byte // the block table
	done   []atomic.Uint32
	verify bool
	err    atomic.Pointer[CorruptError]
	// onCorrupt, when set, runs once, at the first failed check.
	onCorrupt func()
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// headerChecksum is the CRC-32C of the header (without its CRC field) and
// of the block table.
func headerChecksum(b []byte, nblocks int) uint32 {
	t := castagnoli()
	c := crc32.Update(0, t, b[:offCRC])
	c = crc32.Update(c, t, b[offBlocks:headerSize])
	return crc32.Update(c, t, b[headerSize:headerSize+4*nblocks])
}

func blockCount(dataLen uint64) uint64 { return (dataLen + blockSize - 1) / blockSize }

// openView checks b's header and block table as those of a cache file
// built from a Packages file whose SHA256 is want (nil: any). path names
// the file in errors.
func openView(b []byte, path string, want []byte) (*view, error) {
	return checkView(b, path, want, true)
}

// checkView is openView; the fuzz target turns checksums off (verify
// false) so that it reaches the bounds checks behind them.
func checkView(b []byte, path string, want []byte, verify bool) (*view, error) {
	bad := func(format string, args ...any) (*view, error) {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) < headerSize {
		return bad("%d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if string(b[:len(magic)]) != magic {
		return bad("bad magic %q", b[:8])
	}
	if v := le32(b, offVersion); v != FormatVersion {
		return bad("format version %d, want %d", v, FormatVersion)
	}
	size := uint64(len(b))
	if l := binary.LittleEndian.Uint64(b[offLength:]); l != size {
		return bad("header says %d bytes, file has %d (truncated or extended)", l, size)
	}
	nblocks := uint64(le32(b, offBlocks))
	data := headerSize + 4*nblocks
	if data > size || blockCount(size-data) != nblocks {
		return bad("%d checksum blocks do not cover %d bytes", nblocks, size)
	}
	if got, stored := headerChecksum(b, int(nblocks)), le32(b, offCRC); verify && got != stored {
		return bad("header checksum %08x, header says %08x", got, stored)
	}
	v := &view{
		b: b, path: path, data: data, verify: verify,
		n:      int(le32(b, offCount)),
		nnames: int(le32(b, offNames)),
		nprovs: int(le32(b, offProvs)),
		crcs:   b[headerSize:data],
		done:   make([]atomic.Uint32, (nblocks+31)/32),
	}
	copy(v.sha[:], b[offSHA256:offSHA256+32])
	if want != nil && !bytes.Equal(v.sha[:], want) {
		return bad("built from Packages SHA256 %x, want %x", v.sha, want)
	}
	for i := range numSecs {
		off := uint64(le32(b, offSecs+8*i))
		n := uint64(le32(b, offSecs+8*i+4))
		if off < data || off+n > size {
			return bad("section %d [%d,+%d) outside the file", i, off, n)
		}
		v.secs[i].off, v.secs[i].n = off, n
	}
	count := func(sec, size int) uint64 { return v.secs[sec].n / uint64(size) }
	if count(secPkgs, pkgSize) != uint64(v.n) || count(secNames, nameSize) != uint64(v.nnames) ||
		count(secProvs, nameSize) != uint64(v.nprovs) ||
		v.secs[secPkgs].n%pkgSize != 0 || v.secs[secNames].n%nameSize != 0 || v.secs[secProvs].n%nameSize != 0 ||
		v.secs[secNPost].n%4 != 0 || v.secs[secPPost].n%ppostSize != 0 ||
		!hashSize(v.secs[secNHash].n, v.nnames) || !hashSize(v.secs[secPHash].n, v.nprovs) {
		return bad("table sizes do not match the header's counts")
	}
	return v, nil
}

// hashSize reports whether a hash table of size bytes fits n names: a
// power of two of 4-byte slots, more of them than names.
func hashSize(size uint64, n int) bool {
	slots := size / 4
	return size%4 == 0 && slots > uint64(n) && slots&(slots-1) == 0
}

// corrupt records the first failed check.
func (v *view) corrupt(format string, args ...any) {
	if v.err.CompareAndSwap(nil, &CorruptError{Path: v.path, Reason: fmt.Sprintf(format, args...)}) && v.onCorrupt != nil {
		v.onCorrupt()
	}
}

// span returns n bytes at offset off of section sec, after checking the
// bounds and the blocks they lie in; nil after a failed check.
func (v *view) span(sec int, off, n uint64) []byte {
	s := v.secs[sec]
	if off+n > s.n || off+n < off {
		v.corrupt("section %d: [%d,+%d) outside its %d bytes", sec, off, n, s.n)
		return nil
	}
	abs := s.off + off
	if v.verify && n > 0 {
		for k := (abs - v.data) / blockSize; k <= (abs+n-1-v.data)/blockSize; k++ {
			w, bit := &v.done[k/32], uint32(1)<<(k%32)
			if w.Load()&bit != 0 {
				continue
			}
			start := v.data + k*blockSize
			end := min(start+blockSize, uint64(len(v.b)))
			if crc32.Checksum(v.b[start:end], castagnoli()) != le32(v.crcs, int(4*k)) {
				v.corrupt("block %d (bytes %d-%d): checksum mismatch", k, start, end)
				return nil
			}
			w.Or(bit)
		}
	}
	return v.b[abs : abs+n]
}

// rec returns record i of a table of size-byte records, or a zero record
// after a failed check (so that le32 on it stays in bounds).
func (v *view) rec(sec, i, size int) []byte {
	if r := v.span(sec, uint64(i)*uint64(size), uint64(size)); r != nil {
		return r
	}
	return make([]byte, size)
}

// str returns a string of the pool that aliases the file's bytes.
func (v *view) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	b := v.span(secStr, uint64(off), uint64(n))
	if b == nil {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (v *view) pkg(i int) []byte { return v.rec(secPkgs, i, pkgSize) }

func (v *view) name(i int) string {
	r := v.rec(secNames, i, nameSize)
	return v.str(le32(r, nStrOff), le32(r, nStrLen))
}

// find returns the posting range of key in the name table sec (of n
// records), looked up in its hash table hsec, or ok false.
func (v *view) find(sec, hsec, n int, key string) (start, count int, ok bool) {
	slots := v.secs[hsec].n / 4
	if slots == 0 {
		return 0, 0, false
	}
	mask := slots - 1
	h := uint64(hashName(key))
	// A sound table always has an empty slot; a damaged one must not
	// loop forever.
	for probe := uint64(0); probe < slots; probe++ {
		slot := v.span(hsec, 4*((h+probe)&mask), 4)
		if slot == nil {
			return 0, 0, false
		}
		k := le32(slot, 0)
		if k == 0 {
			return 0, 0, false
		}
		if int(k-1) >= n {
			v.corrupt("hash slot %d of section %d names record %d of %d", (h+probe)&mask, hsec, k-1, n)
			return 0, 0, false
		}
		r := v.rec(sec, int(k-1), nameSize)
		if v.str(le32(r, nStrOff), le32(r, nStrLen)) == key {
			return int(le32(r, nPostStart)), int(le32(r, nPostCount)), true
		}
	}
	return 0, 0, false
}

// hashName is FNV-1a, the hash of the name tables.
func hashName(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// hashTable lays out the hash table of sorted names: a power of two of
// slots, at least twice as many as names, linear probing.
func hashTable(names []string) []byte {
	slots := uint32(1)
	for slots < 2*uint32(len(names)) {
		slots <<= 1
	}
	t := make([]byte, 4*slots)
	mask := slots - 1
	for i, n := range names {
		for k := hashName(n) & mask; ; k = (k + 1) & mask {
			if binary.LittleEndian.Uint32(t[4*k:]) == 0 {
				binary.LittleEndian.PutUint32(t[4*k:], uint32(i+1))
				break
			}
		}
	}
	return t
}

// namePackages returns the package numbers named key, in file order.
func (v *view) namePackages(key string) []uint32 {
	start, count, ok := v.find(secNames, secNHash, v.nnames, key)
	if !ok {
		return nil
	}
	p := v.span(secNPost, 4*uint64(start), 4*uint64(count))
	out := make([]uint32, 0, len(p)/4)
	for i := 0; i < len(p); i += 4 {
		if k := le32(p, i); int(k) < v.n {
			out = append(out, k)
		} else {
			v.corrupt("name posting %d: package %d of %d", start+i/4, k, v.n)
		}
	}
	return out
}

// text returns package i's stanza text, aliasing the file.
func (v *view) text(i int) ([]byte, error) {
	r := v.pkg(i)
	t := v.span(secText, uint64(le32(r, pTextOff)), uint64(le32(r, pTextLen)))
	if t == nil {
		if err := v.err.Load(); err != nil {
			return nil, err
		}
		return nil, &CorruptError{Path: v.path, Reason: fmt.Sprintf("package %d has no stanza text", i)}
	}
	return t, nil
}
