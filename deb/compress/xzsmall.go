package compress

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// DecodeXZSmall decodes a whole .xz stream held in memory whose content is
// at most limit bytes, the form of a .deb's control.tar.xz, with a dictionary
// the size of the content.
//
// Why: the general decoder allocates the dictionary the stream declares,
// 8 MiB for the control members dpkg-deb writes, to decode 10–100 KB; an
// install reads two control members per package, and clearing and
// collecting 16 MiB per package cost about 3 ms of it (0.7 s of a
// 118-package install). LZMA2 back-references never reach further than
// what has been decoded, so a dictionary as large as the content is
// always enough; the content's size is in the stream's index, at its end.
//
// ok is false, with nothing decoded, for any stream that is not one stream
// of one LZMA2 block whose container checks out and whose content decodes
// to exactly the indexed size with the right check: the caller then
// decodes it with the general decoder, whose errors it keeps.
func DecodeXZSmall(data []byte, limit int64) (out []byte, ok bool) {
	const (
		headerLen = 12
		footerLen = 12
	)
	if len(data) < headerLen+footerLen || !bytes.Equal(data[:6], []byte(xzMagic)) {
		return nil, false
	}
	flags := data[6:8]
	if flags[0] != 0 || crc32.ChecksumIEEE(flags) != binary.LittleEndian.Uint32(data[8:12]) {
		return nil, false
	}
	var checkLen int
	switch flags[1] {
	case 0x00:
	case 0x01:
		checkLen = 4
	case 0x04:
		checkLen = 8
	case 0x0a:
		checkLen = 32
	default:
		return nil, false
	}
	// The footer is the last 12 bytes: anything after the stream (padding,
	// another stream) sends the data to the general decoder.
	foot := data[len(data)-footerLen:]
	if string(foot[10:12]) != "YZ" || !bytes.Equal(foot[8:10], flags) ||
		crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[0:4]) {
		return nil, false
	}
	indexLen := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	indexStart := int64(len(data)-footerLen) - indexLen
	// The smallest index: indicator, count, padding, CRC32.
	if indexLen < 8 || indexStart < headerLen {
		return nil, false
	}
	index := data[indexStart : len(data)-footerLen]
	if index[0] != 0 || crc32.ChecksumIEEE(index[:len(index)-4]) != binary.LittleEndian.Uint32(index[len(index)-4:]) {
		return nil, false
	}
	rest := index[1 : len(index)-4]
	records, rest, ok := uvarint(rest)
	if !ok || records != 1 {
		return nil, false
	}
	unpadded, rest, ok := uvarint(rest)
	if !ok {
		return nil, false
	}
	size, rest, ok := uvarint(rest)
	if !ok || size > uint64(limit) || !allZero(rest) {
		return nil, false
	}
	// The block header: one filter, LZMA2, with its dictionary size.
	hlen := (int(data[headerLen]) + 1) * 4
	if data[headerLen] == 0 || int64(headerLen+hlen) > indexStart {
		return nil, false
	}
	bh := data[headerLen : headerLen+hlen]
	if crc32.ChecksumIEEE(bh[:hlen-4]) != binary.LittleEndian.Uint32(bh[hlen-4:]) {
		return nil, false
	}
	bflags := bh[1]
	if bflags&0x3f != 0 { // one filter, no reserved bits
		return nil, false
	}
	hrest := bh[2 : hlen-4]
	if bflags&0x40 != 0 {
		if _, hrest, ok = uvarint(hrest); !ok {
			return nil, false
		}
	}
	if bflags&0x80 != 0 {
		var bsize uint64
		if bsize, hrest, ok = uvarint(hrest); !ok || bsize != size {
			return nil, false
		}
	}
	id, hrest, ok := uvarint(hrest)
	if !ok || id != 0x21 {
		return nil, false
	}
	plen, hrest, ok := uvarint(hrest)
	if !ok || plen != 1 || len(hrest) < 1 {
		return nil, false
	}
	declared, err := lzma.DecodeDictCap(hrest[0])
	if err != nil || !allZero(hrest[1:]) {
		return nil, false
	}
	// The compressed data, its padding to four bytes and the check fill
	// the space up to the index exactly.
	if unpadded < uint64(hlen+checkLen) {
		return nil, false
	}
	clen := int64(unpadded) - int64(hlen) - int64(checkLen)
	start := int64(headerLen + hlen)
	pad := (4 - clen%4) % 4
	if start+clen+pad+int64(checkLen) != indexStart || !allZero(data[start+clen:start+clen+pad]) {
		return nil, false
	}
	check := data[start+clen+pad : indexStart]
	dictCap := max(int64(size), lzma.MinDictCap)
	if declared < dictCap {
		dictCap = max(declared, lzma.MinDictCap)
	}
	zr, err := lzma.Reader2Config{DictCap: int(dictCap)}.NewReader2(bytes.NewReader(data[start : start+clen]))
	if err != nil {
		return nil, false
	}
	out = make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, false
	}
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return nil, false
	}
	switch flags[1] {
	case 0x01:
		ok = crc32.ChecksumIEEE(out) == binary.LittleEndian.Uint32(check)
	case 0x04:
		ok = crc64.Checksum(out, crc64.MakeTable(crc64.ECMA)) == binary.LittleEndian.Uint64(check)
	case 0x0a:
		sum := sha256.Sum256(out)
		ok = bytes.Equal(sum[:], check)
	default:
		ok = true
	}
	if !ok {
		return nil, false
	}
	return out, true
}

// xzMagic starts every .xz stream.
const xzMagic = "\xfd7zXZ\x00"

// uvarint reads one of xz's variable-length integers (at most nine bytes,
// no needless trailing zero byte).
func uvarint(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, nil, false
			}
			return v, b[i+1:], true
		}
	}
	return 0, nil, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
