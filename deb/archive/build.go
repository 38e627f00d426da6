package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

// BuildOptions configures Build.
type BuildOptions struct {
	// Compression of control.tar and data.tar; "" means compress.Xz, as
	// dpkg-deb's default. compress.Bzip2 cannot be written.
	Compression compress.Format
	// SourceDateEpoch, when not zero, clamps every file's mtime to it and
	// dates the ar members and the signature with it, as dpkg-deb does
	// with $SOURCE_DATE_EPOCH. The library never reads the environment.
	// When zero, mtimes are kept and the newest one dates the members, so
	// a tree whose mtimes do not change still builds to the same bytes.
	SourceDateEpoch time.Time
	// Signer, when set, adds debsigs' origin signature (_gpgorigin). It
	// must hold an unencrypted private key.
	Signer *openpgp.Entity
	// TempDir receives the compressed data member while the package is
	// assembled (ar needs its size first); "" means os.TempDir().
	TempDir string
}

// BuildResult describes a package Build wrote.
type BuildResult struct {
	// Fields is the control file as written (with Installed-Size).
	Fields *control.Stanza
	// Package, Version and Architecture are the control's fields.
	Package, Version, Architecture string
	// Entries is the number of data.tar entries.
	Entries int
	// Size is the number of bytes written.
	Size int64
}

// FileName returns dpkg-deb's name for a package file:
// NAME_VERSION_ARCH.deb, the version without its epoch.
func (b *BuildResult) FileName() string {
	v := b.Version
	if pv, err := version.Parse(v); err == nil {
		pv.Epoch = 0
		v = pv.String()
	}
	return b.Package + "_" + v + "_" + b.Architecture + ".deb"
}

// BuildError is a problem with the package tree given to Build, naming the
// file in the tree.
type BuildError struct {
	Path string // path of the offending file, as given (DIR/DEBIAN/postinst)
	Err  error
}

func (e *BuildError) Error() string { return "build " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *BuildError) Unwrap() error { return e.Err }

// ErrInvalidTree is wrapped by every BuildError that reports a tree dpkg
// would refuse to build (as opposed to an I/O failure).
var ErrInvalidTree = errors.New("invalid package tree")

func invalid(path string, format string, args ...any) error {
	return &BuildError{Path: path, Err: fmt.Errorf("%w: %s", ErrInvalidTree, fmt.Sprintf(format, args...))}
}

// The control files dpkg runs as programs; dpkg-deb --build requires each
// present one to be executable and not writable by others.
func isMaintainerScript(name string) bool {
	switch name {
	case "preinst", "postinst", "prerm", "postrm", "config":
		return true
	}
	return false
}

var (
	// Debian policy 5.6.1: lower case letters, digits, + - ., at least two
	// characters, starting with an alphanumeric.
	packageNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	archRe        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// dpkg's control member names: what dpkg-deb accepts in DEBIAN/.
	controlNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)
)

// treeFile is one file of the package tree, outside DEBIAN.
type treeFile struct {
	name string // archive path: "./", "./usr/", "./usr/bin/hello"
	sort string // sort key: the path as find(1) prints it ("./usr")
	abs  string
	info fs.FileInfo
	id   fileID
	link string // symlink target, or the archive path a hard link refers to
	hard bool
}

// Build writes the package described by dir (a tree with a DEBIAN
// subdirectory, as `dpkg-deb --build` takes) to w: debian-binary,
// control.tar and data.tar, each tar sorted by path with root/root owners,
// and a _gpgorigin signature when opts.Signer is set.
//
// Beyond dpkg-deb it fills in what dpkg-gencontrol and dh_md5sums would:
// Installed-Size (when the control file lacks it) and DEBIAN/md5sums (when
// the tree lacks it). Installed-Size is dpkg-gencontrol's sum over the
// whole tree — DEBIAN included, before control and md5sums exist — of
// ceil(size/1024) per regular file (hard links once) and symlink (size of
// the target string), and 1 per directory and other object. The md5sums
// list every regular file except conffiles, as dh_md5sums does.
//
// The same tree with the same SourceDateEpoch always gives the same bytes.
func Build(ctx context.Context, dir string, w io.Writer, opts BuildOptions) (*BuildResult, error) {
	if opts.Compression == "" {
		opts.Compression = compress.Xz
	}
	ext, ok := memberExtension(opts.Compression)
	if !ok {
		return nil, fmt.Errorf("build %s: cannot compress members with %q (use xz, gzip, zstd or none)", dir, opts.Compression)
	}
	ctlDir := filepath.Join(dir, "DEBIAN")
	ctlFiles, err := readControlDir(ctlDir)
	if err != nil {
		return nil, err
	}
	fields, err := checkControl(ctlDir, ctlFiles)
	if err != nil {
		return nil, err
	}
	tree, err := walkTree(ctx, dir)
	if err != nil {
		return nil, err
	}
	conffiles, err := checkConffiles(ctlDir, ctlFiles, tree)
	if err != nil {
		return nil, err
	}
	clamp := func(t time.Time) time.Time {
		t = t.Truncate(time.Second)
		if !opts.SourceDateEpoch.IsZero() && t.After(opts.SourceDateEpoch) {
			return opts.SourceDateEpoch.Truncate(time.Second)
		}
		return t
	}
	date := opts.SourceDateEpoch.Truncate(time.Second)
	if opts.SourceDateEpoch.IsZero() {
		date = newest(tree, ctlFiles)
	}

	// data.tar first: md5sums come from it and go into control.tar.
	tmp, err := os.CreateTemp(opts.TempDir, "grey-build-*.data")
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	sums, err := writeData(ctx, tmp, tree, opts.Compression, clamp)
	if err != nil {
		return nil, err
	}
	dataSize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", dir, err)
	}

	if _, ok := fields.Lookup("Installed-Size"); !ok {
		insertAfter(fields, "Maintainer", control.Field{Name: "Installed-Size", Value: strconv.FormatInt(installedSize(tree, ctlFiles), 10)})
	}
	var ctlText bytes.Buffer
	if err := control.WriteStanza(&ctlText, fields); err != nil {
		return nil, &BuildError{Path: filepath.Join(ctlDir, "control"), Err: err}
	}
	ctlFiles = setControlFile(ctlFiles, "control", ctlText.Bytes())
	if findControlFile(ctlFiles, "md5sums") == nil && len(sums) > 0 {
		var b bytes.Buffer
		for _, s := range sums {
			if conffiles[s.path] {
				continue
			}
			fmt.Fprintf(&b, "%s  %s\n", s.sum, s.path)
		}
		if b.Len() > 0 {
			ctlFiles = setControlFile(ctlFiles, "md5sums", b.Bytes())
		}
	}
	ctlTar, err := writeControlTar(ctlFiles, opts.Compression, clamp(dirModTime(ctlDir)), clamp)
	if err != nil {
		return nil, fmt.Errorf("build %s: control member: %w", dir, err)
	}

	cw := &countingWriter{w: w}
	aw := &arWriter{w: cw}
	mtime := date.Unix()
	if err := aw.writeMember(memberDebianBinary, mtime, 4, strings.NewReader("2.0\n")); err != nil {
		return nil, fmt.Errorf("build %s: write: %w", dir, err)
	}
	if err := aw.writeMember(memberControl+ext, mtime, int64(len(ctlTar)), bytes.NewReader(ctlTar)); err != nil {
		return nil, fmt.Errorf("build %s: write: %w", dir, err)
	}
	if err := aw.writeMember(memberData+ext, mtime, dataSize, io.NewSectionReader(tmp, 0, dataSize)); err != nil {
		return nil, fmt.Errorf("build %s: write: %w", dir, err)
	}
	if opts.Signer != nil {
		signed := io.MultiReader(strings.NewReader("2.0\n"), bytes.NewReader(ctlTar), io.NewSectionReader(tmp, 0, dataSize))
		sig, err := detachSign(signed, opts.Signer, signatureTime(date, opts.Signer))
		if err != nil {
			return nil, fmt.Errorf("build %s: sign: %w", dir, err)
		}
		if err := aw.writeMember(memberSignature, mtime, int64(len(sig)), bytes.NewReader(sig)); err != nil {
			return nil, fmt.Errorf("build %s: write: %w", dir, err)
		}
	}
	return &BuildResult{
		Fields:       fields,
		Package:      fields.Get("Package"),
		Version:      fields.Get("Version"),
		Architecture: fields.Get("Architecture"),
		Entries:      len(tree),
		Size:         cw.n,
	}, nil
}

func memberExtension(f compress.Format) (string, bool) {
	switch f {
	case compress.None:
		return "", true
	case compress.Gzip:
		return ".gz", true
	case compress.Xz:
		return ".xz", true
	case compress.Zstd:
		return ".zst", true
	}
	return "", false
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctlFile is one file of DEBIAN/.
type ctlFile struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
	data  []byte
}

func findControlFile(files []ctlFile, name string) *ctlFile {
	for i := range files {
		if files[i].name == name {
			return &files[i]
		}
	}
	return nil
}

// setControlFile replaces (or adds, mode 0644) a control file's content.
func setControlFile(files []ctlFile, name string, data []byte) []ctlFile {
	if f := findControlFile(files, name); f != nil {
		f.data = data
		return files
	}
	var mtime time.Time
	for _, f := range files {
		if f.mtime.After(mtime) {
			mtime = f.mtime
		}
	}
	files = append(files, ctlFile{name: name, mode: 0o644, mtime: mtime, data: data})
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files
}

// readControlDir reads DEBIAN/ and applies dpkg-deb's checks on it.
func readControlDir(ctlDir string) ([]ctlFile, error) {
	fi, err := os.Lstat(ctlDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, invalid(ctlDir, "no DEBIAN directory (the package's control files)")
		}
		return nil, &BuildError{Path: ctlDir, Err: err}
	}
	if !fi.IsDir() {
		return nil, invalid(ctlDir, "not a directory")
	}
	if p := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); p&^0o020 != 0o755 {
		return nil, invalid(ctlDir, "control directory has bad permissions %03o (must be >=0755 and <=0775)", TarMode(p))
	}
	des, err := os.ReadDir(ctlDir)
	if err != nil {
		return nil, &BuildError{Path: ctlDir, Err: err}
	}
	var files []ctlFile
	for _, de := range des {
		p := filepath.Join(ctlDir, de.Name())
		if !controlNameRe.MatchString(de.Name()) {
			return nil, invalid(p, "control file name %q is not valid (lower case letters, digits, + - .)", de.Name())
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, &BuildError{Path: p, Err: err}
		}
		if !fi.Mode().IsRegular() {
			return nil, invalid(p, "control files must be regular files (this is %s)", fi.Mode().Type())
		}
		if isMaintainerScript(de.Name()) && TarMode(fi.Mode())&0o7557 != 0o555 {
			return nil, invalid(p, "maintainer script has bad permissions %03o (must be >=0555 and <=0775)", TarMode(fi.Mode()))
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, &BuildError{Path: p, Err: err}
		}
		files = append(files, ctlFile{name: de.Name(), mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), mtime: fi.ModTime(), data: data})
	}
	return files, nil
}

// checkControl parses DEBIAN/control and checks the fields a binary
// package cannot do without.
func checkControl(ctlDir string, files []ctlFile) (*control.Stanza, error) {
	p := filepath.Join(ctlDir, "control")
	f := findControlFile(files, "control")
	if f == nil {
		return nil, invalid(p, "missing (every package needs DEBIAN/control)")
	}
	st, err := control.ParseOne(f.data)
	if err != nil {
		return nil, &BuildError{Path: p, Err: fmt.Errorf("%w: %w", ErrInvalidTree, err)}
	}
	for _, name := range []string{"Package", "Version", "Architecture", "Maintainer", "Description"} {
		if v, ok := st.Lookup(name); !ok || strings.TrimSpace(v) == "" {
			return nil, invalid(p, "required field %s is missing", name)
		}
	}
	if name := st.Get("Package"); !packageNameRe.MatchString(name) {
		return nil, invalid(p, "Package %q is not a valid package name (lower case letters, digits, + - ., at least 2 characters)", name)
	}
	if _, err := version.Parse(st.Get("Version")); err != nil {
		return nil, &BuildError{Path: p, Err: fmt.Errorf("%w: Version: %w", ErrInvalidTree, err)}
	}
	if arch := st.Get("Architecture"); !archRe.MatchString(arch) || arch == "any" {
		return nil, invalid(p, "Architecture %q is not one architecture name (such as amd64 or all)", arch)
	}
	if v, ok := st.Lookup("Installed-Size"); ok {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return nil, invalid(p, "Installed-Size %q is not a number of KiB", v)
		}
	}
	return st, nil
}

// checkConffiles checks DEBIAN/conffiles against the tree as dpkg-deb does
// and returns the md5sums-style paths of the conffiles shipped.
func checkConffiles(ctlDir string, files []ctlFile, tree []treeFile) (map[string]bool, error) {
	out := map[string]bool{}
	f := findControlFile(files, "conffiles")
	if f == nil {
		return out, nil
	}
	p := filepath.Join(ctlDir, "conffiles")
	list, err := parseConffiles(f.data)
	if err != nil {
		return nil, &BuildError{Path: p, Err: fmt.Errorf("%w: %w", ErrInvalidTree, err)}
	}
	byName := make(map[string]*treeFile, len(tree))
	for i := range tree {
		byName[tree[i].name] = &tree[i]
	}
	seen := map[string]bool{}
	for _, c := range list {
		if seen[c.Path] {
			return nil, invalid(p, "conffile %s is listed twice", c.Path)
		}
		seen[c.Path] = true
		remove := false
		for _, fl := range c.Flags {
			if fl != "remove-on-upgrade" {
				return nil, invalid(p, "unknown conffile flag %q for %s", fl, c.Path)
			}
			remove = true
		}
		tf := byName["."+c.Path]
		if tf == nil {
			tf = byName["."+c.Path+"/"]
		}
		switch {
		case remove && tf != nil:
			return nil, invalid(p, "conffile %s is shipped but flagged remove-on-upgrade", c.Path)
		case remove:
		case tf == nil:
			return nil, invalid(p, "conffile %s is not in the package", c.Path)
		case !tf.info.Mode().IsRegular() || tf.hard:
			return nil, invalid(p, "conffile %s is not a plain file", c.Path)
		default:
			out[strings.TrimPrefix(c.Path, "/")] = true
		}
	}
	return out, nil
}

// walkTree lists every file under dir except DEBIAN, in dpkg-deb's order
// (find | LC_ALL=C sort), and pairs hard links with their first name.
func walkTree(ctx context.Context, dir string) ([]treeFile, error) {
	var tree []treeFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return &BuildError{Path: p, Err: err}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return &BuildError{Path: p, Err: err}
		}
		rel = filepath.ToSlash(rel)
		if rel == "DEBIAN" {
			return filepath.SkipDir
		}
		info, err := os.Lstat(p)
		if err != nil {
			return &BuildError{Path: p, Err: err}
		}
		tf := treeFile{abs: p, info: info, id: identity(info)}
		if rel == "." {
			tf.name, tf.sort = "./", "."
		} else {
			tf.name, tf.sort = "./"+rel, "./"+rel
		}
		switch m := info.Mode(); {
		case m.IsDir():
			if rel != "." {
				tf.name += "/"
			}
		case m.IsRegular():
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return &BuildError{Path: p, Err: err}
			}
			tf.link = target
		case m&fs.ModeNamedPipe != 0, m&fs.ModeDevice != 0:
			if !tf.id.ok {
				return invalid(p, "device files and fifos are not supported on this system")
			}
		default:
			return invalid(p, "cannot be packaged (%s)", m.Type())
		}
		tree = append(tree, tf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(tree, func(i, j int) bool { return tree[i].sort < tree[j].sort })
	first := map[[2]uint64]string{}
	for i := range tree {
		tf := &tree[i]
		if !tf.info.Mode().IsRegular() || !tf.id.ok || tf.id.nlink < 2 {
			continue
		}
		key := [2]uint64{tf.id.dev, tf.id.ino}
		if name, ok := first[key]; ok {
			tf.hard, tf.link = true, name
			continue
		}
		first[key] = tf.name
	}
	return tree, nil
}

// newest returns the latest mtime of the tree and the control files.
func newest(tree []treeFile, files []ctlFile) time.Time {
	var t time.Time
	for _, tf := range tree {
		if mt := tf.info.ModTime(); mt.After(t) {
			t = mt
		}
	}
	for _, f := range files {
		if f.mtime.After(t) {
			t = f.mtime
		}
	}
	return t.Truncate(time.Second)
}

func dirModTime(p string) time.Time {
	if fi, err := os.Stat(p); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

// installedSize is dpkg-gencontrol's estimate in KiB (see Build).
func installedSize(tree []treeFile, files []ctlFile) int64 {
	ceilKiB := func(n int64) int64 { return (n + 1023) / 1024 }
	var kib int64
	for _, tf := range tree {
		switch m := tf.info.Mode(); {
		case tf.hard:
		case m.IsRegular():
			kib += ceilKiB(tf.info.Size())
		case m&fs.ModeSymlink != 0:
			kib += ceilKiB(int64(len(tf.link)))
		default:
			kib++
		}
	}
	kib++ // DEBIAN itself
	for _, f := range files {
		if f.name != "control" && f.name != "md5sums" {
			kib += ceilKiB(int64(len(f.data)))
		}
	}
	return kib
}

// insertAfter inserts f after the field called after (or at the end).
func insertAfter(s *control.Stanza, after string, f control.Field) {
	for i := range s.Fields {
		if strings.EqualFold(s.Fields[i].Name, after) {
			s.Fields = append(s.Fields[:i+1], append([]control.Field{f}, s.Fields[i+1:]...)...)
			return
		}
	}
	s.Fields = append(s.Fields, f)
}

type fileSum struct{ path, sum string }

// writeData writes the compressed data.tar of tree to w and returns the
// MD5 of every regular file, in archive order.
func writeData(ctx context.Context, w io.Writer, tree []treeFile, f compress.Format, clamp func(time.Time) time.Time) ([]fileSum, error) {
	zw, err := compress.NewWriter(w, f)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	var sums []fileSum
	for _, tf := range tree {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := &tar.Header{
			Name:    tf.name,
			Mode:    TarMode(tf.info.Mode()),
			Uname:   "root",
			Gname:   "root",
			ModTime: clamp(tf.info.ModTime()),
			Format:  tar.FormatGNU,
		}
		m := tf.info.Mode()
		switch {
		case tf.hard:
			h.Typeflag, h.Linkname = tar.TypeLink, tf.link
		case m.IsDir():
			h.Typeflag = tar.TypeDir
		case m.IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, tf.info.Size()
		case m&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, tf.link
		case m&fs.ModeNamedPipe != 0:
			h.Typeflag = tar.TypeFifo
		case m&fs.ModeCharDevice != 0:
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, tf.id.major, tf.id.minor
		case m&fs.ModeDevice != 0:
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeBlock, tf.id.major, tf.id.minor
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, &BuildError{Path: tf.abs, Err: err}
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		sum, err := copyFile(tw, tf.abs, h.Size)
		if err != nil {
			return nil, &BuildError{Path: tf.abs, Err: err}
		}
		sums = append(sums, fileSum{path: strings.TrimPrefix(tf.name, "./"), sum: sum})
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	for _, tf := range tree {
		if tf.hard {
			// A hard link's other names are regular files to dh_md5sums.
			for _, s := range sums {
				if "./"+s.path == tf.link {
					sums = append(sums, fileSum{path: strings.TrimPrefix(tf.name, "./"), sum: s.sum})
					break
				}
			}
		}
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i].path < sums[j].path })
	return sums, nil
}

// copyFile copies exactly size bytes of the file at p to w and returns
// their MD5; a file that changed size since it was listed is an error.
func copyFile(w io.Writer, p string, size int64) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(f, size+1))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("file changed size while being packaged (%d bytes, was %d)", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeControlTar returns the compressed control.tar: "./" and the control
// files in name order.
func writeControlTar(files []ctlFile, f compress.Format, dirTime time.Time, clamp func(time.Time) time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := compress.NewWriter(&buf, f)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	root := &tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, Uname: "root", Gname: "root", ModTime: dirTime, Format: tar.FormatGNU}
	if err := tw.WriteHeader(root); err != nil {
		return nil, err
	}
	for _, cf := range files {
		h := &tar.Header{
			Name: "./" + cf.name, Typeflag: tar.TypeReg, Mode: TarMode(cf.mode), Size: int64(len(cf.data)),
			Uname: "root", Gname: "root", ModTime: clamp(cf.mtime), Format: tar.FormatGNU,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(cf.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
