package sources

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/greypm/grey/internal/rootfs"
)

// Paths of grey's source configuration inside a root, as apt's
// /etc/apt/sources.list and sources.list.d.
const (
	ListFile = "etc/grey/sources.list"
	ListDir  = "etc/grey/sources.list.d"
)

// Paths of apt's own configuration inside a root, read when grey has
// none of its own (see Load).
const (
	AptListFile       = "etc/apt/sources.list"
	AptListDir        = "etc/apt/sources.list.d"
	AptTrustedFile    = "etc/apt/trusted.gpg"
	AptTrustedPartDir = "etc/apt/trusted.gpg.d"
)

// Load reads the sources configured in the root file system at root:
// ROOT/etc/grey/sources.list, then the *.list and *.sources files of
// ROOT/etc/grey/sources.list.d in name order. When grey has no source file
// of its own in the root, Load reads apt's instead (see LoadApt), so grey
// works on a Debian host with no set-up. A missing file or directory is no
// error. Errors name the file (under root) and line.
//
// Every file is read through an os.Root of root, its symbolic links
// followed as inside a chroot (internal/rootfs): a link in the root (say
// etc/apt/sources.list.d -> /) leads to the root's own files, never to the
// host's.
func Load(root string) ([]*Source, error) {
	r, err := openRoot(root)
	if err != nil || r == nil {
		return nil, err
	}
	defer r.Close()
	display := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	srcs, found, err := load(rootfs.FS(r), display, ListFile, ListDir)
	if err != nil || found > 0 {
		return srcs, err
	}
	return loadApt(r, root)
}

// openRoot opens root as an os.Root; nil, and no error, when it does not
// exist (a root with no configuration).
func openRoot(root string) (*os.Root, error) {
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sources: open root %s: %w", root, err)
	}
	return r, nil
}

// LoadFS reads grey's own source files (not apt's) from a file system
// whose root is the root file system; errors and Source.File name files by
// their path in fsys.
func LoadFS(fsys fs.FS) ([]*Source, error) {
	srcs, _, err := load(fsys, func(name string) string { return name }, ListFile, ListDir)
	return srcs, err
}

// LoadApt reads apt's sources in the root file system at root
// (ROOT/etc/apt/sources.list, then sources.list.d/*.list and *.sources in
// name order) and gives each the keyring apt would check it with, as paths
// on this machine:
//
//   - a signed-by keyring file is looked up inside root (symbolic links
//     resolved within root, as apt does with RootDir);
//   - a source with no signed-by keyring file (none, or only fingerprints)
//     gets apt's trusted keyrings: ROOT/etc/apt/trusted.gpg and the *.gpg
//     and *.asc files of ROOT/etc/apt/trusted.gpg.d, in name order.
//
// grey trusts per source only; this gives an apt source exactly the keys
// apt would accept for it. Files are read as Load reads them; a keyring's
// path is resolved inside the root the same way (and the keyring is read
// later by that path).
func LoadApt(root string) ([]*Source, error) {
	r, err := openRoot(root)
	if err != nil || r == nil {
		return nil, err
	}
	defer r.Close()
	return loadApt(r, root)
}

func loadApt(r *os.Root, root string) ([]*Source, error) {
	display := func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) }
	srcs, _, err := load(rootfs.FS(r), display, AptListFile, AptListDir)
	if err != nil || len(srcs) == 0 {
		return srcs, err
	}
	var trusted []string
	trustedRead := false
	for _, s := range srcs {
		var files []string
		for _, sb := range s.SignedBy {
			if looksLikeFingerprint(sb) {
				continue
			}
			if path.IsAbs(sb) {
				p, err := rootfs.Resolve(r, sb, true)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: signed-by %s: %w", s.File, s.Line, sb, err)
				}
				sb = filepath.Join(root, filepath.FromSlash(p))
			}
			files = append(files, sb)
		}
		if len(files) == 0 && s.SignedByKey == "" {
			if !trustedRead {
				if trusted, err = aptTrusted(r, root); err != nil {
					return nil, err
				}
				trustedRead = true
			}
			files = trusted
		}
		// Fingerprints stay, after the files, restricting the signer.
		for _, sb := range s.SignedBy {
			if looksLikeFingerprint(sb) {
				files = append(files, sb)
			}
		}
		if len(files) > 0 {
			s.SignedBy = slices.Clone(files)
		}
	}
	return srcs, nil
}

// aptTrusted returns apt's trusted keyrings in root as paths on this
// machine: etc/apt/trusted.gpg when it exists, then the *.gpg and *.asc
// files of etc/apt/trusted.gpg.d in name order (apt's TrustedParts rule:
// letters, digits, '_', '-' and '.' only), each resolved inside the root.
func aptTrusted(r *os.Root, root string) ([]string, error) {
	var out []string
	regular := func(name string) (string, bool) {
		p, err := rootfs.Resolve(r, name, true)
		if err != nil {
			return "", false
		}
		fi, err := r.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return "", false // a dangling link or a directory: apt skips it too
		}
		return filepath.Join(root, filepath.FromSlash(p)), true
	}
	if p, ok := regular(AptTrustedFile); ok {
		out = append(out, p)
	}
	entries, err := rootfs.ReadDir(r, AptTrustedPartDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if (strings.HasSuffix(n, ".gpg") || strings.HasSuffix(n, ".asc")) && plainName(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if p, ok := regular(path.Join(AptTrustedPartDir, n)); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// looksLikeFingerprint reports whether a signed-by item is a key
// fingerprint (40 or 64 hex digits, optionally ending in '!') rather than
// a keyring path.
func looksLikeFingerprint(s string) bool {
	s = strings.TrimSuffix(s, "!")
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// load reads listFile, then the usable files of listDir in name order; found
// counts the source files that exist.
func load(fsys fs.FS, display func(string) string, listFile, listDir string) (out []*Source, found int, err error) {
	files := []string{listFile}
	entries, err := fs.ReadDir(fsys, listDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("read %s: %w", display(listDir), err)
	}
	var names []string
	for _, e := range entries {
		if usableName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, path.Join(listDir, n))
	}

	for _, name := range files {
		srcs, ok, err := loadFile(fsys, name, display(name))
		if err != nil {
			return nil, 0, err
		}
		if ok {
			found++
		}
		out = append(out, srcs...)
	}
	return out, found, nil
}

// usableName reports whether apt would read a file of sources.list.d: a
// .list or .sources extension and only letters, digits, '_', '-' and '.'
// in the name. apt ignores the rest (with a notice), and so does grey.
func usableName(name string) bool {
	if !strings.HasSuffix(name, ".list") && !strings.HasSuffix(name, ".sources") {
		return false
	}
	return plainName(name)
}

// plainName reports whether name has only letters, digits, '_', '-' and
// '.', the names apt reads in its .d directories.
func plainName(name string) bool {
	for _, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// loadFile parses one source file; ok reports that it exists.
func loadFile(fsys fs.FS, name, shown string) (srcs []*Source, ok bool, err error) {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open %s: %w", shown, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, false, fmt.Errorf("stat %s: %w", shown, err)
	} else if fi.IsDir() {
		// A directory named like a source file is skipped, as apt does.
		return nil, false, nil
	}
	if strings.HasSuffix(name, ".sources") {
		srcs, err = ParseSources(f, shown)
	} else {
		srcs, err = ParseList(f, shown)
	}
	return srcs, true, err
}
