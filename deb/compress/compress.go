// Package compress opens the compressed streams Debian uses (xz, gzip, zstd,
// bzip2, or none) behind one io.ReadCloser, chosen by the stream's magic bytes
// so a caller never has to trust a file name.
package compress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Format names a compression format.
type Format string

// The formats Debian archives and .deb members use.
const (
	None  Format = "none"
	Gzip  Format = "gzip"
	Xz    Format = "xz"
	Zstd  Format = "zstd"
	Bzip2 Format = "bzip2"
)

var (
	magicXz    = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	magicGzip  = []byte{0x1F, 0x8B}
	magicZstd  = []byte{0x28, 0xB5, 0x2F, 0xFD}
	magicBzip2 = []byte("BZh")
)

// Detect returns the format whose magic bytes start head. It returns None
// when head matches no known magic.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, magicXz):
		return Xz
	case bytes.HasPrefix(head, magicGzip):
		return Gzip
	case bytes.HasPrefix(head, magicZstd):
		return Zstd
	case bytes.HasPrefix(head, magicBzip2):
		return Bzip2
	}
	return None
}

// FromExtension returns the format a file name's extension announces
// (".xz", ".gz", ".zst", ".bz2"), or None.
func FromExtension(name string) Format {
	switch {
	case strings.HasSuffix(name, ".xz"):
		return Xz
	case strings.HasSuffix(name, ".gz"):
		return Gzip
	case strings.HasSuffix(name, ".zst"):
		return Zstd
	case strings.HasSuffix(name, ".bz2"):
		return Bzip2
	}
	return None
}

// ErrFormatMismatch reports a stream whose content is not in the format its
// name promised.
var ErrFormatMismatch = errors.New("compression format does not match")

// NewReader returns a reader of the decompressed content of r, detecting the
// format from its first bytes. Plain input is passed through unchanged.
// Close releases decoder resources; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, None, fmt.Errorf("read compression header: %w", err)
	}
	f := Detect(head)
	rc, err := Open(br, f)
	return rc, f, err
}

// NewReaderFormat is NewReader for a stream that must be in format want
// (from a member or file name): any other content is ErrFormatMismatch.
func NewReaderFormat(r io.Reader, want Format) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read compression header: %w", err)
	}
	if got := Detect(head); got != want {
		return nil, fmt.Errorf("%w: want %s, content is %s", ErrFormatMismatch, want, got)
	}
	return Open(br, want)
}

// Open wraps r in the decoder for format f without sniffing.
func Open(r io.Reader, f Format) (io.ReadCloser, error) {
	switch f {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Xz:
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return io.NopCloser(zr), nil
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return nil, fmt.Errorf("unknown compression format %q", f)
}

// NewWriter returns a writer compressing into w in format f at a level that
// suits repository indexes and packages. Output depends only on the input, so
// builds stay reproducible. Close flushes it; it does not close w.
func NewWriter(w io.Writer, f Format) (io.WriteCloser, error) {
	switch f {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	case Xz:
		cfg := xz.WriterConfig{CheckSum: xz.CRC64}
		return cfg.NewWriter(w)
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	}
	return nil, fmt.Errorf("cannot compress to %q", f)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
