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
)

// Paths of grey's source configuration inside a root, as apt's
// /etc/apt/sources.list and sources.list.d.
const (
	ListFile = "etc/grey/sources.list"
	ListDir  = "etc/grey/sources.list.d"
)

// Load reads the sources configured in the root file system at root:
// ROOT/etc/grey/sources.list, then the *.list and *.sources files of
// ROOT/etc/grey/sources.list.d in name order. A missing file or directory
// is no error. Errors name the file (under root) and line.
func Load(root string) ([]*Source, error) {
	return load(os.DirFS(root), func(name string) string { return filepath.Join(root, filepath.FromSlash(name)) })
}

// LoadFS is Load on a file system whose root is the root file system;
// errors and Source.File name files by their path in fsys.
func LoadFS(fsys fs.FS) ([]*Source, error) {
	return load(fsys, func(name string) string { return name })
}

func load(fsys fs.FS, display func(string) string) ([]*Source, error) {
	files := []string{ListFile}
	entries, err := fs.ReadDir(fsys, ListDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", display(ListDir), err)
	}
	var names []string
	for _, e := range entries {
		if usableName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, n := range names {
		files = append(files, path.Join(ListDir, n))
	}

	var out []*Source
	for _, name := range files {
		srcs, err := loadFile(fsys, name, display(name))
		if err != nil {
			return nil, err
		}
		out = append(out, srcs...)
	}
	return out, nil
}

// usableName reports whether apt would read a file of sources.list.d: a
// .list or .sources extension and only letters, digits, '_', '-' and '.'
// in the name. apt ignores the rest (with a notice), and so does grey.
func usableName(name string) bool {
	if !strings.HasSuffix(name, ".list") && !strings.HasSuffix(name, ".sources") {
		return false
	}
	for _, c := range []byte(name) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func loadFile(fsys fs.FS, name, shown string) ([]*Source, error) {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", shown, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("stat %s: %w", shown, err)
	} else if fi.IsDir() {
		// A directory named like a source file is skipped, as apt does.
		return nil, nil
	}
	if strings.HasSuffix(name, ".sources") {
		return ParseSources(f, shown)
	}
	return ParseList(f, shown)
}
