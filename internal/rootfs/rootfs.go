// Package rootfs reads and writes files inside a Debian root through an
// os.Root, with the root's own meaning of its symbolic links.
//
// A root's configuration is full of absolute symbolic links
// (etc/apt/trusted.gpg.d/debian-archive-keyring.gpg ->
// /usr/share/keyrings/...) that mean a path of the root, not of the host:
// os.Root refuses them, and a plain path join follows them out of the
// root. Resolve follows them as chroot(2) would: each component is looked
// up through the os.Root (whose lookups start at the root's descriptor and
// never leave it), an absolute link target starts again at the root, and
// ".." stops there. The file is then opened through the os.Root by the
// resolved name, so a component swapped for a symbolic link meanwhile can
// at worst make the call fail or reach another file inside the root,
// never one outside it (os.Root refuses links that leave it).
//
// The package imports nothing of grey's; transaction, image and
// repo/sources use it.
package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// MaxLinks bounds the symbolic links one lookup follows (the kernel's 40).
const MaxLinks = 40

// Resolve returns name (relative to the root, or absolute, meaning the
// same) resolved with chroot semantics inside r, as a clean relative path
// ("." for the root itself). The last component is followed only when
// follow is set (a writer that replaces a name wants the name, not what a
// link there points to). A component that does not exist ends the
// lookups: the rest is taken as written.
func Resolve(r *os.Root, name string, follow bool) (string, error) {
	todo := strings.Split(strings.TrimPrefix(filepath.ToSlash(name), "/"), "/")
	var done []string
	links := 0
	missing := false
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		if missing || (len(todo) == 0 && !follow) {
			done = append(done, c)
			continue
		}
		cur := path.Join(append(append([]string(nil), done...), c)...)
		fi, err := r.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			missing = true
			done = append(done, c)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("resolve /%s in %s: %w", strings.TrimPrefix(name, "/"), r.Name(), err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > MaxLinks {
			return "", fmt.Errorf("resolve /%s in %s: %w", strings.TrimPrefix(name, "/"), r.Name(), syscall.ELOOP)
		}
		target, err := r.Readlink(cur)
		if err != nil {
			return "", fmt.Errorf("resolve /%s in %s: %w", strings.TrimPrefix(name, "/"), r.Name(), err)
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// Open opens name for reading, every symbolic link on the way followed
// inside the root (Resolve).
func Open(r *os.Root, name string) (*os.File, error) {
	rel, err := Resolve(r, name, true)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(rel)
	if err != nil {
		return nil, hostErr(r, "open", name, err)
	}
	return f, nil
}

// ReadFile reads name (Open).
func ReadFile(r *os.Root, name string) ([]byte, error) {
	rel, err := Resolve(r, name, true)
	if err != nil {
		return nil, err
	}
	b, err := r.ReadFile(rel)
	if err != nil {
		return nil, hostErr(r, "read", name, err)
	}
	return b, nil
}

// Stat describes name, every symbolic link followed inside the root (its
// Name is the name of what the last link leads to, as an opened file's).
func Stat(r *os.Root, name string) (fs.FileInfo, error) {
	rel, err := Resolve(r, name, true)
	if err != nil {
		return nil, err
	}
	fi, err := r.Lstat(rel)
	if err != nil {
		return nil, hostErr(r, "stat", name, err)
	}
	return fi, nil
}

// Lstat describes name itself, the links before it followed inside the
// root.
func Lstat(r *os.Root, name string) (fs.FileInfo, error) {
	rel, err := Resolve(r, name, false)
	if err != nil {
		return nil, err
	}
	fi, err := r.Lstat(rel)
	if err != nil {
		return nil, hostErr(r, "lstat", name, err)
	}
	return fi, nil
}

// Readlink returns the target of the symbolic link name.
func Readlink(r *os.Root, name string) (string, error) {
	rel, err := Resolve(r, name, false)
	if err != nil {
		return "", err
	}
	l, err := r.Readlink(rel)
	if err != nil {
		return "", hostErr(r, "readlink", name, err)
	}
	return l, nil
}

// ReadDir lists the directory name in name order.
func ReadDir(r *os.Root, name string) ([]fs.DirEntry, error) {
	f, err := Open(r, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, hostErr(r, "read", name, err)
	}
	sortEntries(ents)
	return ents, nil
}

// Host returns name's path on this machine, for messages: the root's
// path joined with name (clean, never above the root).
func Host(r *os.Root, name string) string {
	return filepath.Join(r.Name(), filepath.Clean("/"+filepath.FromSlash(name)))
}

// hostErr names the file by its path on this machine.
func hostErr(r *os.Root, op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: Host(r, name), Err: err}
}

// MkdirAll makes the directory name (resolved inside the root, Resolve)
// and its missing parents, each with mode perm whatever the umask, and
// returns the resolved relative path. A component that exists and is not
// a directory is an error naming it.
func MkdirAll(r *os.Root, name string, perm fs.FileMode) (string, error) {
	rel, err := Resolve(r, name, true)
	if err != nil || rel == "." {
		return rel, err
	}
	cur := ""
	for c := range strings.SplitSeq(rel, "/") {
		cur = path.Join(cur, c)
		fi, err := r.Lstat(cur)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s is not a directory", Host(r, cur))
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", hostErr(r, "mkdir", cur, err)
		}
		if err := r.Mkdir(cur, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", hostErr(r, "mkdir", cur, err)
		}
		if err := r.Chmod(cur, perm); err != nil {
			return "", hostErr(r, "chmod", cur, err)
		}
	}
	return rel, nil
}

// WriteFile replaces the file name inside r with data and mode perm: the
// directories on the way are resolved inside the root (and made, mode
// 0755, when missing), a temporary file is created beside it exclusively
// (nothing planted there is followed), synced when sync is set, and
// renamed over the last component, which is replaced, never followed. It
// returns the resolved relative path of the file written.
func WriteFile(r *os.Root, name string, data []byte, perm fs.FileMode, sync bool) (string, error) {
	dir, err := MkdirAll(r, path.Dir(strings.TrimPrefix(filepath.ToSlash(name), "/")), 0o755)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", Host(r, name), err)
	}
	rel := path.Join(dir, path.Base(filepath.ToSlash(name)))
	if fi, err := r.Lstat(rel); err == nil && fi.IsDir() {
		return "", fmt.Errorf("write %s: a directory is there", Host(r, name))
	}
	var f *os.File
	var tmp string
	for i := 0; ; i++ {
		tmp = path.Join(dir, fmt.Sprintf(".%s.tmp%d-%d", path.Base(rel), os.Getpid(), i))
		f, err = r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", Host(r, name), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, rel)
	}
	if err != nil {
		_ = r.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", Host(r, name), err)
	}
	return rel, nil
}

// FS returns r as an fs.FS whose names are resolved inside the root with
// chroot semantics (Resolve), unlike os.DirFS (which follows a link out
// of the directory) and r.FS() (which refuses absolute links).
func FS(r *os.Root) fs.FS { return chrootFS{r} }

type chrootFS struct{ r *os.Root }

func (c chrootFS) check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

func (c chrootFS) Open(name string) (fs.File, error) {
	if err := c.check("open", name); err != nil {
		return nil, err
	}
	f, err := Open(c.r, name)
	if err != nil {
		return nil, fsErr(name, err)
	}
	return f, nil
}

// fsErr names the file of a *fs.PathError by its name in the fs.FS, as
// fs.FS implementations do.
func fsErr(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}

func (c chrootFS) ReadFile(name string) ([]byte, error) {
	if err := c.check("read", name); err != nil {
		return nil, err
	}
	v, err := ReadFile(c.r, name)
	return v, fsErr(name, err)
}

func (c chrootFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := c.check("readdir", name); err != nil {
		return nil, err
	}
	v, err := ReadDir(c.r, name)
	return v, fsErr(name, err)
}

func (c chrootFS) Stat(name string) (fs.FileInfo, error) {
	if err := c.check("stat", name); err != nil {
		return nil, err
	}
	v, err := Stat(c.r, name)
	return v, fsErr(name, err)
}

func (c chrootFS) Lstat(name string) (fs.FileInfo, error) {
	if err := c.check("lstat", name); err != nil {
		return nil, err
	}
	v, err := Lstat(c.r, name)
	return v, fsErr(name, err)
}

func (c chrootFS) ReadLink(name string) (string, error) {
	if err := c.check("readlink", name); err != nil {
		return "", err
	}
	v, err := Readlink(c.r, name)
	return v, fsErr(name, err)
}

func sortEntries(ents []fs.DirEntry) {
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}

// ErrOutside reports a path of a root that leads out of it through a
// symbolic link (an absolute one, or one climbing above the root), which
// os.Root refuses to follow.
var ErrOutside = errors.New("leads out of the root through a symbolic link")

// Outside returns an error naming the first component of name (relative
// to r, looked up as os.Root looks it up) that is a symbolic link leading
// out of the root, wrapping ErrOutside; nil when none does (name, or a
// part of it, may still be missing).
func Outside(r *os.Root, name string) error {
	cur := ""
	for c := range strings.SplitSeq(path.Clean(strings.TrimPrefix(filepath.ToSlash(name), "/")), "/") {
		cur = path.Join(cur, c)
		fi, err := r.Lstat(cur)
		if err != nil {
			return nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if _, err := r.Stat(cur); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ELOOP) {
			target, _ := r.Readlink(cur)
			return fmt.Errorf("%s (-> %s) %w", Host(r, cur), target, ErrOutside)
		}
	}
	return nil
}

// Explain describes err, which the os.Root operation op on name returned:
// when a component of name leads out of the root it says which (wrapping
// ErrOutside, and err), else err with the file named by its host path.
func Explain(r *os.Root, op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return hostErr(r, op, name, err)
	}
	if out := Outside(r, name); out != nil {
		return fmt.Errorf("%s %s: %w", op, Host(r, name), out)
	}
	return hostErr(r, op, name, err)
}

// StateName is name (relative to the root) as grey looks its own and
// dpkg's state up through r, refusing links that leave the root: in the
// host's root "/", which has no outside, the directories' symbolic links
// are followed as the kernel follows them (Resolve; os.Root refuses
// absolute links, which a host may have: /var -> /data/var); in any other
// root name itself, so that os.Root refuses a link leading out
// (Explain names it). The last component is never resolved.
func StateName(r *os.Root, name string) (string, error) {
	return stateName(r, name, false)
}

// StateDirName is StateName for a directory: in "/" a link that is its
// last component is followed too.
func StateDirName(r *os.Root, name string) (string, error) {
	return stateName(r, name, true)
}

func stateName(r *os.Root, name string, follow bool) (string, error) {
	if filepath.Clean(r.Name()) != "/" {
		return strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/"), nil
	}
	return Resolve(r, name, follow)
}
