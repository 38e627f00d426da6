package archive

import (
	"archive/tar"
	"bytes"
	"testing"
	"time"

	"github.com/greypm/grey/deb/compress"
)

// member is one ar member of a hand-made test package.
type member struct {
	name string
	data []byte
}

// arBytes lays out members as dpkg-deb would.
func arBytes(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	aw := &arWriter{w: &buf}
	for _, m := range members {
		if err := aw.writeMember(m.name, 1700000000, int64(len(m.data)), bytes.NewReader(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// tarBytes writes headers (with content for regular files) as a GNU tar.
func tarBytes(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.h
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatGNU
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type tarEntry struct {
	h    tar.Header
	body []byte
}

func dirEntry(name string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, Uname: "root", Gname: "root"}}
}

func fileEntry(name string, mode int64, body string) tarEntry {
	return tarEntry{h: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uname: "root", Gname: "root"}, body: []byte(body)}
}

func squeeze(t testing.TB, f compress.Format, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := compress.NewWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const testControl = "Package: tiny\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Test <test@example.org>\nDescription: a tiny test package\n"

// controlTar is a control.tar with control, md5sums, conffiles and a postinst.
func controlTar(t testing.TB) []byte {
	return tarBytes(t,
		dirEntry("./"),
		fileEntry("./control", 0o644, testControl),
		fileEntry("./md5sums", 0o644, "b1946ac92492d2347c6235b4d2611184  usr/share/tiny/hello\n"),
		fileEntry("./conffiles", 0o644, "/etc/tiny.conf\nremove-on-upgrade /etc/old.conf\n"),
		fileEntry("./postinst", 0o755, "#!/bin/sh\nexit 0\n"),
	)
}

// dataTar holds a directory tree, a file, a symlink and a hard link.
func dataTar(t testing.TB) []byte {
	return tarBytes(t,
		dirEntry("./"),
		dirEntry("./etc/"),
		fileEntry("./etc/tiny.conf", 0o644, "x=1\n"),
		dirEntry("./usr/"),
		dirEntry("./usr/share/"),
		dirEntry("./usr/share/tiny/"),
		fileEntry("./usr/share/tiny/hello", 0o644, "hello\n"),
		tarEntry{h: tar.Header{Name: "./usr/share/tiny/link", Typeflag: tar.TypeSymlink, Linkname: "hello", Mode: 0o777, Uname: "root", Gname: "root"}},
		tarEntry{h: tar.Header{Name: "./usr/share/tiny/hard", Typeflag: tar.TypeLink, Linkname: "./usr/share/tiny/hello", Mode: 0o644, Uname: "root", Gname: "root"}},
	)
}

// tinyDeb is a complete small package with the given member compressions.
func tinyDeb(t testing.TB, cf, df compress.Format) []byte {
	t.Helper()
	ext := func(f compress.Format) string {
		switch f {
		case compress.Gzip:
			return ".gz"
		case compress.Xz:
			return ".xz"
		case compress.Zstd:
			return ".zst"
		case compress.Bzip2:
			return ".bz2"
		}
		return ""
	}
	return arBytes(t,
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar" + ext(cf), squeeze(t, cf, controlTar(t))},
		member{"data.tar" + ext(df), squeeze(t, df, dataTar(t))},
	)
}
