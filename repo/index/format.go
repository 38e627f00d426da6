package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"
)

// FormatVersion is the cache file format's version. It is part of every
// cache file's name and header, so a grey that writes another format never
// reads this one.
const FormatVersion = 1

var magic = [8]byte{'G', 'R', 'E', 'Y', 'I', 'D', 'X', 0}

// Header layout.
const (
	headerSize = 128
	offVersion = 8
	offCount   = 12 // packages
	offLength  = 16 // u64, the whole file
	offNames   = 24 // distinct names
	offProvs   = 28 // distinct provided names
	offSHA256  = 32 // of the Packages file the cache was built from
	offSecs    = 64 // numSecs × (offset u32, length u32)
	offCRC     = 120
	offZero    = 124 // reserved, must be zero
)

// Sections, in file order.
const (
	secPkgs  = iota // pkgSize bytes per package
	secNames        // nameSize bytes per distinct name, sorted by name
	secNPost        // u32 package numbers, the names' posting lists
	secProvs        // nameSize bytes per distinct provided name, sorted
	secPPost        // ppostSize bytes per (package, provided version)
	secStr          // small strings
	secText         // stanza texts
	numSecs
)

// Record layouts: u32 fields at these offsets.
const (
	pkgSize     = 44
	pTextOff    = 0
	pTextLen    = 4
	pTextCRC    = 8
	pLine       = 12
	pName       = 16 // index into the names table
	pVerOff     = 20 // version, in the string pool
	pVerLen     = 24
	pArchOff    = 28
	pArchLen    = 32
	pDescOff    = 36 // short description
	pDescLen    = 40
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
// a file; callers that open cache files themselves can tell it apart from an
// I/O error with errors.As.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("index cache %s: corrupt: %s", e.Path, e.Reason)
}

// view is a checked cache file's bytes. Every accessor stays in bounds
// because open checked every offset the tables hold.
type view struct {
	b      []byte
	n      int // packages
	nnames int
	nprovs int
	secs   [numSecs][]byte
	sha    [32]byte
}

func le32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// checksum is the CRC-32C of the header (without its CRC field) and of every
// section but the stanza text, which carries a CRC per stanza.
func checksum(b []byte, secs *[numSecs][]byte) uint32 {
	t := castagnoli()
	c := crc32.Update(0, t, b[:offCRC])
	c = crc32.Update(c, t, b[offZero:headerSize])
	for i := range secText {
		c = crc32.Update(c, t, secs[i])
	}
	return c
}

// openView checks b as a cache file built from a Packages file whose SHA256
// is want (nil: any). path only names the file in errors.
func openView(b []byte, path string, want []byte) (*view, error) {
	return checkView(b, path, want, true)
}

// checkView is openView; the fuzz target turns the checksum off (verify
// false) so that it reaches the structural checks behind it.
func checkView(b []byte, path string, want []byte, verify bool) (*view, error) {
	bad := func(format string, args ...any) (*view, error) {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	if len(b) < headerSize {
		return bad("%d bytes, shorter than the %d-byte header", len(b), headerSize)
	}
	if !bytes.Equal(b[:8], magic[:]) {
		return bad("bad magic %q", b[:8])
	}
	if v := le32(b, offVersion); v != FormatVersion {
		return bad("format version %d, want %d", v, FormatVersion)
	}
	if l := binary.LittleEndian.Uint64(b[offLength:]); l != uint64(len(b)) {
		return bad("header says %d bytes, file has %d (truncated or extended)", l, len(b))
	}
	if le32(b, offZero) != 0 {
		return bad("reserved header field is not zero")
	}
	v := &view{
		b:      b,
		n:      int(le32(b, offCount)),
		nnames: int(le32(b, offNames)),
		nprovs: int(le32(b, offProvs)),
	}
	copy(v.sha[:], b[offSHA256:offSHA256+32])
	if want != nil && !bytes.Equal(v.sha[:], want) {
		return bad("built from Packages SHA256 %x, want %x", v.sha, want)
	}
	for i := range numSecs {
		off := uint64(le32(b, offSecs+8*i))
		n := uint64(le32(b, offSecs+8*i+4))
		if off < headerSize || off+n > uint64(len(b)) {
			return bad("section %d [%d,+%d) outside the file", i, off, n)
		}
		v.secs[i] = b[off : off+n]
	}
	if got, stored := checksum(b, &v.secs), le32(b, offCRC); verify && got != stored {
		return bad("checksum %08x, header says %08x", got, stored)
	}
	want32 := func(sec, count, size int) bool { return uint64(len(v.secs[sec])) == uint64(count)*uint64(size) }
	if !want32(secPkgs, v.n, pkgSize) || !want32(secNames, v.nnames, nameSize) || !want32(secProvs, v.nprovs, nameSize) ||
		len(v.secs[secNPost])%4 != 0 || len(v.secs[secPPost])%ppostSize != 0 {
		return bad("table sizes do not match the header's counts")
	}
	// Bounds of every offset, so that no accessor can fault on a file that
	// passed the checksum by accident or was written by a buggy grey.
	str := uint64(len(v.secs[secStr]))
	inStr := func(off, n uint32) bool { return uint64(off)+uint64(n) <= str }
	text := uint64(len(v.secs[secText]))
	pk := v.secs[secPkgs]
	for i := 0; i < v.n; i++ {
		r := pk[i*pkgSize : (i+1)*pkgSize]
		if uint64(le32(r, pTextOff))+uint64(le32(r, pTextLen)) > text ||
			int(le32(r, pName)) >= v.nnames ||
			!inStr(le32(r, pVerOff), le32(r, pVerLen)) ||
			!inStr(le32(r, pArchOff), le32(r, pArchLen)) ||
			!inStr(le32(r, pDescOff), le32(r, pDescLen)) {
			return bad("package record %d points outside its sections", i)
		}
	}
	checkNames := func(sec, post, postSize, n int) error {
		np := uint64(len(v.secs[post]) / postSize)
		t := v.secs[sec]
		for i := 0; i < n; i++ {
			r := t[i*nameSize : (i+1)*nameSize]
			if !inStr(le32(r, nStrOff), le32(r, nStrLen)) ||
				uint64(le32(r, nPostStart))+uint64(le32(r, nPostCount)) > np {
				return fmt.Errorf("name record %d of section %d points outside its sections", i, sec)
			}
		}
		return nil
	}
	if err := checkNames(secNames, secNPost, 4, v.nnames); err != nil {
		return bad("%v", err)
	}
	if err := checkNames(secProvs, secPPost, ppostSize, v.nprovs); err != nil {
		return bad("%v", err)
	}
	for i, p := 0, v.secs[secNPost]; i < len(p); i += 4 {
		if int(le32(p, i)) >= v.n {
			return bad("name posting %d names package %d of %d", i/4, le32(p, i), v.n)
		}
	}
	for i, p := 0, v.secs[secPPost]; i < len(p); i += ppostSize {
		if int(le32(p, i+ppPkg)) >= v.n || !inStr(le32(p, i+ppVerOff), le32(p, i+ppVerLen)) {
			return bad("provides posting %d points outside its sections", i/ppostSize)
		}
	}
	return v, nil
}

// str returns a string of the pool that aliases the file's bytes.
func (v *view) str(off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&v.secs[secStr][off], int(n))
}

func (v *view) pkg(i int) []byte { return v.secs[secPkgs][i*pkgSize : (i+1)*pkgSize] }

func (v *view) name(i int) string {
	r := v.secs[secNames][i*nameSize:]
	return v.str(le32(r, nStrOff), le32(r, nStrLen))
}

// find returns the posting range of key in a sorted name table, or ok false.
func (v *view) find(sec, n int, key string) (start, count int, ok bool) {
	t := v.secs[sec]
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		r := t[m*nameSize:]
		if v.str(le32(r, nStrOff), le32(r, nStrLen)) < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == n {
		return 0, 0, false
	}
	r := t[lo*nameSize:]
	if v.str(le32(r, nStrOff), le32(r, nStrLen)) != key {
		return 0, 0, false
	}
	return int(le32(r, nPostStart)), int(le32(r, nPostCount)), true
}

// namePackages returns the package numbers named key, in file order.
func (v *view) namePackages(key string) []uint32 {
	start, count, ok := v.find(secNames, v.nnames, key)
	if !ok {
		return nil
	}
	out := make([]uint32, count)
	p := v.secs[secNPost]
	for i := range out {
		out[i] = le32(p, 4*(start+i))
	}
	return out
}

// text returns package i's stanza text (aliasing the file) after checking
// its CRC.
func (v *view) text(i int) ([]byte, error) {
	r := v.pkg(i)
	off, n := le32(r, pTextOff), le32(r, pTextLen)
	t := v.secs[secText][off : uint64(off)+uint64(n)]
	if crc32.Checksum(t, castagnoli()) != le32(r, pTextCRC) {
		return nil, fmt.Errorf("stanza %d: checksum mismatch", i)
	}
	return t, nil
}
