package image

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/greypm/grey/deb/archive"
)

// Compression is how a tar output is compressed.
type Compression int

// Compressions of a tar output.
const (
	None Compression = iota
	Gzip
	Zstd
)

// WriteTar writes the tree at dir to w as a tar archive whose bytes depend
// only on the tree's content, names, modes and owners: entries sorted by
// name, modification times clamped to epoch (seconds since 1970), no access
// or change times, no user or group names, no extended attributes, the PAX
// format throughout, and hard links written as links to the first name in
// that order. Files the archive cannot hold (sockets) are an error.
func WriteTar(ctx context.Context, dir string, w io.Writer, epoch int64) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	clamp := time.Unix(epoch, 0).UTC()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no owner information", p)
		}
		mtime := fi.ModTime().UTC().Truncate(time.Second)
		if mtime.After(clamp) {
			mtime = clamp
		}
		h := &tar.Header{
			Name:    name,
			Mode:    archive.TarMode(fi.Mode()),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		var body string
		switch m := fi.Mode(); {
		case m.IsDir():
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case m&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			if h.Linkname, err = os.Readlink(p); err != nil {
				return err
			}
		case m.IsRegular():
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok && st.Nlink > 1 {
				h.Typeflag = tar.TypeLink
				h.Linkname = first
				break
			}
			if st.Nlink > 1 {
				links[key] = name
			}
			h.Typeflag = tar.TypeReg
			h.Size = fi.Size()
			body = p
		case m&fs.ModeNamedPipe != 0:
			h.Typeflag = tar.TypeFifo
		case m&fs.ModeDevice != 0:
			h.Typeflag = tar.TypeBlock
			if m&fs.ModeCharDevice != 0 {
				h.Typeflag = tar.TypeChar
			}
			h.Devmajor, h.Devminor = int64(major(uint64(st.Rdev))), int64(minor(uint64(st.Rdev)))
		default:
			return fmt.Errorf("%s: cannot put a %s in a tar archive", p, m.Type())
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if body != "" {
			f, err := os.Open(body)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, io.LimitReader(f, h.Size))
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write tar of %s: %w", dir, err)
	}
	return tw.Close()
}

func major(dev uint64) uint64 { return ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000) }
func minor(dev uint64) uint64 { return (dev & 0xff) | ((dev >> 12) & 0xffffff00) }

// CompressionOf returns the compression a tar output's name asks for
// (.tar, .tar.gz or .tgz, .tar.zst), and false when the name is no tar.
func CompressionOf(name string) (Compression, bool) {
	switch {
	case strings.HasSuffix(name, ".tar"):
		return None, true
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return Gzip, true
	case strings.HasSuffix(name, ".tar.zst"), strings.HasSuffix(name, ".tar.zstd"):
		return Zstd, true
	}
	return None, false
}

// compressor wraps w; the writers are configured so that their output
// depends only on the input (no name or time in the gzip header, one zstd
// encoder thread).
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
	case None:
		return nopCloser{w}, nil
	}
	return nil, errors.New("unknown compression")
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// WriteTarFile writes the tree at dir to the file path (compressed as c),
// atomically: a temporary file beside it is renamed over it when whole.
func WriteTarFile(ctx context.Context, dir, path string, c Compression, epoch int64) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	cw, err := compressor(f, c)
	if err == nil {
		err = WriteTar(ctx, dir, cw, epoch)
		if cerr := cw.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
