package transaction

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/internal/rootfs"
)

// rootFS is a root opened as an os.Root. Every file system access a
// transaction makes inside the root goes through it: paths are resolved
// by looking each component up through the os.Root (whose lookups start
// at the root's descriptor and never leave it, whatever is renamed or
// replaced meanwhile), and files are created, linked, renamed, chowned
// and removed with the *at system calls on a descriptor of their
// directory opened through it, by a single name. A concurrent writer in
// the root can at worst make an operation fail or land elsewhere inside
// the root, never outside it (securejoin's resolve-then-open-by-name, used
// before, could be redirected between the two).
type rootFS struct {
	root *os.Root
	host string // the root's absolute host path, for messages and bookkeeping

	mu   sync.Mutex
	dirs map[string]*os.File // host path of a directory -> its open descriptor

	bufs sync.Pool // of *[]byte, readBufSize: readInto's
}

// readBufSize is the size of readInto's buffers.
const readBufSize = 64 << 10

func openRootFS(host string) (*rootFS, error) {
	r, err := os.OpenRoot(host)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", host, err)
	}
	rfs := &rootFS{root: r, host: host, dirs: map[string]*os.File{}}
	rfs.bufs.New = func() any { b := make([]byte, readBufSize); return &b }
	return rfs, nil
}

// openRootFSAbs opens the root at root, which may be relative, and
// returns it with root's absolute path, which its methods take.
func openRootFSAbs(root string) (*rootFS, string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, "", err
	}
	rfs, err := openRootFS(abs)
	return rfs, abs, err
}

// close closes every directory descriptor and the root.
func (r *rootFS) close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.dirs {
		_ = f.Close()
	}
	r.dirs = map[string]*os.File{}
	_ = r.root.Close()
}

// phys returns host's path relative to the root, "." for the root.
func (r *rootFS) phys(host string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(filepath.Clean(host), r.host), "/")
	if rel == "" {
		return "."
	}
	return rel
}

// resolve returns the host path of rel (relative to the root, or
// absolute, meaning the same) with chroot semantics: each component is
// looked up through the os.Root; a symlink's target, read through it, is
// followed inside the root (an absolute one from the root, ".." stops at
// the root). The last component is followed only when follow is set, so
// that an entry replaces a symlink rather than writing through it. A
// component that does not exist ends the lookups: the rest is taken as
// written.
func (r *rootFS) resolve(rel string, follow bool) (string, error) {
	p, err := rootfs.Resolve(r.root, rel, follow)
	if err != nil {
		return "", err
	}
	return filepath.Join(r.host, filepath.FromSlash(p)), nil
}

// dirFD returns a descriptor of the directory at host, opened through the
// os.Root (O_DIRECTORY, so a file or a symlink to one is refused) and
// kept until close.
func (r *rootFS) dirFD(host string) (int, error) {
	host = filepath.Clean(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.dirs[host]; ok {
		return int(f.Fd()), nil
	}
	// The parent's descriptor is open: one openat of the last name, not
	// following a symlink there (a content store's new directory costs
	// one system call, not a lookup of every component). A symlink, or
	// any other failure but a missing name, takes the os.Root's lookup,
	// which follows a link that stays inside the root.
	if parent, ok := r.dirs[filepath.Dir(host)]; ok && host != r.host {
		if name := filepath.Base(host); name != "." && name != ".." {
			fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				r.dirs[host] = os.NewFile(uintptr(fd), host)
				return fd, nil
			}
			if errors.Is(err, unix.ENOENT) {
				return -1, &os.PathError{Op: "openat", Path: host, Err: err}
			}
		}
	}
	f, err := r.root.OpenFile(r.phys(host), os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, err
	}
	r.dirs[host] = f
	return int(f.Fd()), nil
}

// at returns the descriptor of host's directory and host's name in it.
func (r *rootFS) at(host string) (int, string, error) {
	fd, err := r.dirFD(filepath.Dir(host))
	if err != nil {
		return -1, "", fmt.Errorf("open %s: %w", filepath.Dir(host), err)
	}
	return fd, filepath.Base(host), nil
}

// The operations below act on one name in a directory descriptor; none
// follows a symlink in the last component.

func (r *rootFS) lstat(host string) (unix.Stat_t, error) {
	var st unix.Stat_t
	fd, name, err := r.at(host)
	if err == nil {
		err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return st, &os.PathError{Op: "lstat", Path: host, Err: unwrapErrno(err)}
	}
	return st, nil
}

// isDir reports whether host is a directory (not a symlink to one).
func (r *rootFS) isDir(host string) bool {
	st, err := r.lstat(host)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// create makes the new file host (O_EXCL, O_NOFOLLOW), mode 0600, for
// writing. It is os.OpenFile without the runtime poller: for every file
// it opens, os.OpenFile (and os.Root.OpenFile) switches the descriptor to
// non-blocking, fails to add a regular file to epoll and switches it back
// (four fcntl and one epoll_ctl per staged file, 57,000 system calls for
// the 118-package closure). os.NewFile on a blocking descriptor skips
// all of that.
func (r *rootFS) create(host string) (*os.File, error) {
	dfd, name, err := r.at(host)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: host, Err: err}
	}
	return os.NewFile(uintptr(fd), host), nil
}

// createLog creates (or truncates) the file host for appending, mode
// 0644, by name in its directory's descriptor, not following a symlink
// there.
func (r *rootFS) createLog(host string) (*os.File, error) {
	dfd, name, err := r.at(host)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: host, Err: err}
	}
	return os.NewFile(uintptr(fd), host), nil
}

// mkdir makes the directory host, mode 0700 until chmod.
func (r *rootFS) mkdir(host string) error {
	fd, name, err := r.at(host)
	if err == nil {
		err = unix.Mkdirat(fd, name, 0o700)
	}
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: host, Err: unwrapErrno(err)}
	}
	return nil
}

func (r *rootFS) symlink(target, host string) error {
	fd, name, err := r.at(host)
	if err == nil {
		err = unix.Symlinkat(target, fd, name)
	}
	if err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: host, Err: unwrapErrno(err)}
	}
	return nil
}

func (r *rootFS) link(oldHost, newHost string) error {
	ofd, oname, err := r.at(oldHost)
	if err == nil {
		var nfd int
		var nname string
		if nfd, nname, err = r.at(newHost); err == nil {
			err = unix.Linkat(ofd, oname, nfd, nname, 0)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldHost, New: newHost, Err: unwrapErrno(err)}
	}
	return nil
}

// linkFrom hard-links the file outside, a host path outside the root
// (a store shared by several roots), to newHost inside it. Nothing
// about the outside file is checked here; it is not opened.
func (r *rootFS) linkFrom(outside, newHost string) error {
	nfd, nname, err := r.at(newHost)
	if err == nil {
		err = unix.Linkat(unix.AT_FDCWD, outside, nfd, nname, 0)
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: outside, New: newHost, Err: unwrapErrno(err)}
	}
	return nil
}

func (r *rootFS) rename(oldHost, newHost string) error {
	ofd, oname, err := r.at(oldHost)
	if err == nil {
		var nfd int
		var nname string
		if nfd, nname, err = r.at(newHost); err == nil {
			err = unix.Renameat(ofd, oname, nfd, nname)
		}
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldHost, New: newHost, Err: unwrapErrno(err)}
	}
	return nil
}

// remove unlinks the file (or, dir set, the empty directory) host.
func (r *rootFS) remove(host string, dir bool) error {
	fd, name, err := r.at(host)
	if err == nil {
		flags := 0
		if dir {
			flags = unix.AT_REMOVEDIR
		}
		err = unix.Unlinkat(fd, name, flags)
	}
	if err != nil {
		return &os.PathError{Op: "remove", Path: host, Err: unwrapErrno(err)}
	}
	if dir {
		r.forget(host)
	}
	return nil
}

// removeAll removes host and everything below it through the os.Root
// (a link on the way leading out of the root is refused; one at host is
// removed, not followed). A host that does not exist is no error.
func (r *rootFS) removeAll(host string) error {
	rel := r.phys(host)
	if rel == "." {
		return fmt.Errorf("remove %s: the root itself", host)
	}
	err := r.root.RemoveAll(rel)
	r.forgetBelow(host)
	if err != nil {
		return r.named(err)
	}
	return nil
}

// forget closes the cached descriptor of a removed directory.
func (r *rootFS) forget(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.dirs[filepath.Clean(host)]; ok {
		_ = f.Close()
		delete(r.dirs, filepath.Clean(host))
	}
}

// forgetBelow closes the cached descriptors of host and every directory
// below it (removed with it).
func (r *rootFS) forgetBelow(host string) {
	host = filepath.Clean(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, f := range r.dirs {
		if k == host || strings.HasPrefix(k, host+"/") {
			_ = f.Close()
			delete(r.dirs, k)
		}
	}
}

// lchown sets host's owner without following a symlink.
func (r *rootFS) lchown(host string, uid, gid int) error {
	fd, name, err := r.at(host)
	if err == nil {
		err = unix.Fchownat(fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	return err
}

// chmod sets the mode of host, which must not be a symlink (a fresh name
// this transaction made, or a directory it opened).
func (r *rootFS) chmod(host string, mode fs.FileMode) error {
	fd, name, err := r.at(host)
	if err == nil {
		err = unix.Fchmodat(fd, name, modeWord(unixMode(mode)), 0)
	}
	if err != nil {
		return &os.PathError{Op: "chmod", Path: host, Err: unwrapErrno(err)}
	}
	return nil
}

// chtimes sets host's modification time without following a symlink.
func (r *rootFS) chtimes(host string, mtime time.Time) error {
	fd, name, err := r.at(host)
	if err == nil {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtime.UnixNano())}
		err = unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return err
}

// named names the file of an os.Root error by its host path (os.Root's
// errors name it relative to the root).
func (r *rootFS) named(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && !filepath.IsAbs(pe.Path) {
		return &fs.PathError{Op: pe.Op, Path: filepath.Join(r.host, pe.Path), Err: pe.Err}
	}
	return err
}

func unwrapErrno(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sha256 hashes the regular file host, opened by name in its directory
// without following a symlink; other types hash as "type:MODE", as
// Store.Check compares with.
func (r *rootFS) sha256(host string) (string, error) {
	st, err := r.lstat(host)
	if err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Sprintf("type:%o", st.Mode&unix.S_IFMT), nil
	}
	dfd, name, err := r.at(host)
	if err != nil {
		return "", err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: host, Err: err}
	}
	defer unix.Close(fd)
	h := sha256.New()
	if err := r.readInto(fd, host, h); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readInto writes the rest of the file open at fd into w, through one of
// r's buffers: the store's check hashes every content a transaction
// links (thousands of small files for a root composed from snapshots),
// and io.Copy from an *os.File allocates a fresh 32 KiB buffer each time
// (os.File's WriteTo), which was a third of that check's CPU.
func (r *rootFS) readInto(fd int, host string, w io.Writer) error {
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	buf := *bp
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "read", Path: host, Err: err}
		}
		if n <= 0 {
			return nil
		}
		w.Write(buf[:n]) // hashes never fail
	}
}

// hashes returns the SHA256 and MD5 of the regular file host, read once
// (open).
func (r *rootFS) hashes(host string) (sha, md string, err error) {
	f, err := r.open(host)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	h, m := sha256.New(), md5.New()
	if err := r.readInto(int(f.Fd()), host, io.MultiWriter(h, m)); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(m.Sum(nil)), nil
}

// resolvedSHA256 hashes rel (relative to the root, or absolute), the
// symlinks on its way followed inside the root, the last not followed
// (resolve, then sha256).
func (r *rootFS) resolvedSHA256(rel string) (string, error) {
	h, err := r.resolve(rel, false)
	if err != nil {
		return "", err
	}
	return r.sha256(h)
}

// open opens the regular file host for reading, by name in its
// directory's descriptor, without following a symlink.
func (r *rootFS) open(host string) (*os.File, error) {
	dfd, name, err := r.at(host)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: host, Err: err}
	}
	return os.NewFile(uintptr(fd), host), nil
}

// writeAtomic replaces the file host with data and mode (replace).
func (r *rootFS) writeAtomic(host string, data []byte, mode fs.FileMode, sync bool) error {
	return r.replace(host, func(f *os.File) error {
		if _, err := f.Write(data); err != nil {
			return err
		}
		if err := f.Chmod(mode); err != nil {
			return err
		}
		if sync {
			return f.Sync()
		}
		return nil
	})
}

// replace replaces the file host with what fill writes: a new file is
// made beside it by name in its directory's descriptor (O_EXCL,
// O_NOFOLLOW), filled, and renamed over host, so a symlink there is
// replaced, never followed; on an error the new file is removed.
func (r *rootFS) replace(host string, fill func(*os.File) error) error {
	tmp := filepath.Join(filepath.Dir(host), randomName())
	f, err := r.create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", host, err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.rename(tmp, host)
	}
	if err != nil {
		_ = r.remove(tmp, false)
		return fmt.Errorf("write %s: %w", host, err)
	}
	return nil
}

// writeShrunk is writeAtomic and, when that fails for want of space and
// data is no longer than host's content (the list of a removed package's
// conffiles replaces the list of all its files), rewrites host in place:
// truncating it gives back more space than the new content takes. Not
// atomic, so only for files a committed journal rewrites again after a
// crash (finishCommitted).
func (r *rootFS) writeShrunk(host string, data []byte, mode fs.FileMode, sync bool) error {
	err := r.writeAtomic(host, data, mode, sync)
	if err == nil || !errors.Is(err, unix.ENOSPC) {
		return err
	}
	dfd, name, aerr := r.at(host)
	if aerr != nil {
		return err
	}
	fd, oerr := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if oerr != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), host)
	defer f.Close()
	if fi, serr := f.Stat(); serr != nil || !fi.Mode().IsRegular() || fi.Size() < int64(len(data)) {
		return err
	}
	werr := f.Truncate(0)
	if werr == nil {
		_, werr = f.Write(data)
	}
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if werr == nil && sync {
		werr = f.Sync()
	}
	if werr != nil {
		return fmt.Errorf("write %s in place: %w", host, werr)
	}
	return nil
}

// readDir lists the directory host (opened through the os.Root, so a
// link on the way leading out of the root is refused), in name order.
func (r *rootFS) readDir(host string) ([]fs.DirEntry, error) {
	f, err := r.root.Open(r.phys(host))
	if err != nil {
		return nil, r.named(err)
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, &os.PathError{Op: "readdir", Path: host, Err: unwrapErrno(err)}
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// readFile reads the regular file host (open).
func (r *rootFS) readFile(host string) ([]byte, error) {
	f, err := r.open(host)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// writeFileIn replaces the file rel (relative to the root) of the root
// at root through its os.Root (rootFS.writeAtomic): for the state files
// written outside a transaction (dpkg's status, arch, apt's marks).
func writeFileIn(root, rel string, data []byte, mode fs.FileMode, sync bool) error {
	rfs, abs, err := openRootFSAbs(root)
	if err != nil {
		return err
	}
	defer rfs.close()
	return rfs.writeAtomic(filepath.Join(abs, filepath.FromSlash(rel)), data, mode, sync)
}

// readOptionalIn reads the file rel of the root at root through its
// os.Root; nil, and no error, when it does not exist.
func readOptionalIn(root, rel string) ([]byte, error) {
	rfs, abs, err := openRootFSAbs(root)
	if err != nil {
		return nil, err
	}
	defer rfs.close()
	b, err := rfs.readFile(filepath.Join(abs, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// readlink returns the target of the symlink host.
func (r *rootFS) readlink(host string) (string, error) {
	fd, name, err := r.at(host)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			return "", &os.PathError{Op: "readlink", Path: host, Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// statInfo is a unix.Stat_t as the fs.FileInfo verify needs.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (s statInfo) Name() string { return filepath.Base(s.name) }
func (s statInfo) Size() int64  { return s.st.Size }
func (s statInfo) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if s.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
func (s statInfo) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s statInfo) Sys() any           { return &s.st }

// lstatInfo is lstat as an fs.FileInfo.
func (r *rootFS) lstatInfo(host string) (fs.FileInfo, error) {
	st, err := r.lstat(host)
	if err != nil {
		return nil, err
	}
	return statInfo{host, st}, nil
}

// disarm is the package function disarm on host, opened by name in its
// directory's descriptor.
func (r *rootFS) disarm(host string) error {
	dfd, name, err := r.at(host)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return disarmAt(dfd, name, host)
}

// openDeb opens the package file path for reading: through the os.Root
// when it is inside the root (a .deb of the root's package cache; a link
// on the way leading out of the root is refused, naming it), by its path
// when it is elsewhere or the root is "/" (which has no outside).
func (r *rootFS) openDeb(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(r.host, abs)
	if err != nil || !filepath.IsLocal(rel) || filepath.Clean(r.host) == "/" {
		return os.Open(path)
	}
	f, err := r.root.Open(rel)
	if err != nil {
		return nil, rootfs.Explain(r.root, "open", rel, err)
	}
	return f, nil
}
