package transaction

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/pkgdb"
)

// StoreDir is where a root's content store lives, relative to the root.
const StoreDir = "var/lib/grey/store"

// Store is a root's content store: file contents addressed by SHA256,
// in directories named by the first two hex digits. A root's files are
// hard links into it where the file system allows, so keeping the content
// of a replaced file costs nothing; files under /etc and conffiles are
// copies (an edit in place must not change the stored content).
//
// Every access goes through the root's os.Root (rootFS, inroot.go): the
// store's directories are opened through it (a link there leading out of
// the root is refused, a race cannot redirect a lookup out of it) and
// each object is created, linked, read, renamed and removed by one name
// in a descriptor of its directory. The root's files it takes contents
// from and restores them to are reached the same way.
type Store struct {
	// Dir is the store's directory on the host (for messages, and for
	// app roots, which link its objects from outside).
	Dir string

	root string // the root's host path, when OpenStore opens it itself

	mu    sync.Mutex
	rfs   *rootFS
	own   bool // rfs was opened here: Close closes it
	err   error
	ready bool // the store's directory was checked (mkdir)
}

// OpenStore returns the content store of the root at root (it is created
// as contents are added). The root is opened (an os.Root) on first use
// and kept until Close.
func OpenStore(root string) *Store {
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = filepath.Clean(root)
	}
	return &Store{Dir: filepath.Join(abs, filepath.FromSlash(StoreDir)), root: abs}
}

// storeIn returns the content store of the root rfs has open.
func storeIn(rfs *rootFS) *Store {
	return &Store{Dir: filepath.Join(rfs.host, filepath.FromSlash(StoreDir)), rfs: rfs}
}

// Close closes the root OpenStore opened (nothing for a transaction's).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.own {
		s.rfs.close()
		s.rfs, s.own = nil, false
	}
	return nil
}

// fs returns the root the store is in, opening it on first use.
func (s *Store) fs() (*rootFS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rfs == nil && s.err == nil {
		s.rfs, s.err = openRootFS(s.root)
		s.own = s.err == nil
	}
	if s.err != nil {
		return nil, fmt.Errorf("content store: %w", s.err)
	}
	return s.rfs, nil
}

// MissingError names contents the store does not have (or has damaged).
type MissingError struct {
	// Items are "PATH (sha256 SUM)" descriptions, one per missing content.
	Items []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%d content(s) needed are not in the content store or the package cache (freed by gc?): %s",
		len(e.Items), strings.Join(e.Items, ", "))
}

// Path returns where content sum is (or would be) stored.
func (s *Store) Path(sum string) string {
	if len(sum) < 3 {
		return filepath.Join(s.Dir, "bad", sum)
	}
	return filepath.Join(s.Dir, sum[:2], sum[2:])
}

// Has reports whether content sum is stored (without checking it).
func (s *Store) Has(sum string) bool {
	r, err := s.fs()
	if err != nil {
		return false
	}
	_, err = r.lstat(s.Path(sum))
	return err == nil
}

// Add enters the regular file at p (a host path inside the store's
// root), whose content has SHA256 sum, into the store: a hard link unless
// copy is set or the store is on another file system, a copy (a reflink
// where the file system can) otherwise. Content already stored is left as
// it is. Nothing is synced: Add returns the stored path when it added one
// ("" otherwise), so that a caller that needs it durable syncs it (and its
// directory) with others at once.
func (s *Store) Add(p, sum string, copy bool) (string, error) {
	r, err := s.fs()
	if err != nil {
		return "", err
	}
	dst := s.Path(sum)
	if _, err := r.lstat(dst); err == nil {
		return "", nil
	}
	if err := s.mkdir(r, filepath.Dir(dst)); err != nil {
		return "", err
	}
	if !copy {
		err := r.link(p, dst)
		if err == nil {
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) {
			return "", nil
		}
		if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EMLINK) {
			return "", fmt.Errorf("content store: %w", err)
		}
	}
	src, err := r.open(p)
	if err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	defer src.Close()
	return dst, s.writeFrom(r, dst, func(f *os.File) error { return cloneOrCopy(f, src) })
}

// mkdir makes the store's directory dir (a hash prefix) through the
// root's os.Root. The store itself is mode 0700, an older one's mode is
// changed to it: the store holds hard links to the root's files, setuid
// and setgid binaries among them, and a user who could reach them could
// keep running an old setuid binary after it left the root (its bits are
// cleared then, see disarm, but a link taken while it is installed shares
// the inode until then). The store may not be a symbolic link; a link
// elsewhere on the way is followed only inside the root.
func (s *Store) mkdir(r *rootFS, dir string) error {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if !ready {
		if err := s.mkdirStore(r); err != nil {
			return err
		}
		s.mu.Lock()
		s.ready = true
		s.mu.Unlock()
	}
	if _, err := r.dirFD(dir); err == nil {
		return nil // there already (and its descriptor open)
	}
	if err := r.mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("content store: %w", err)
	}
	if _, err := r.dirFD(dir); err != nil {
		return fmt.Errorf("content store: %w", r.named(err))
	}
	return nil
}

// mkdirStore makes the store's own directory, mode 0700.
func (s *Store) mkdirStore(r *rootFS) error {
	if err := r.root.MkdirAll(filepath.Dir(StoreDir), 0o755); err != nil {
		return fmt.Errorf("content store: %w", r.named(err))
	}
	if err := r.mkdir(s.Dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("content store: %w", err)
	}
	st, err := r.lstat(s.Dir)
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("content store: %s is not a directory", s.Dir)
	}
	if st.Mode&0o7777 != 0o700 {
		fd, err := r.dirFD(s.Dir)
		if err == nil {
			err = unix.Fchmod(fd, 0o700)
		}
		if err != nil {
			return fmt.Errorf("content store: chmod %s: %w", s.Dir, err)
		}
	}
	return nil
}

// disarmAt clears the setuid and setgid bits of the regular file name in
// the directory descriptor dfd before it is unlinked or replaced, as dpkg
// does (mode 0600): a hard link to it elsewhere (a user's, or the content
// store's) must not stay a runnable setuid copy of an old binary. It opens
// the file without following a symlink and changes the mode of what it
// opened; host names the file in errors.
func disarmAt(dfd int, name, host string) error {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
			return nil
		}
		return fmt.Errorf("clear setuid/setgid of %s: %w", host, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("clear setuid/setgid of %s: %w", host, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&(unix.S_ISUID|unix.S_ISGID) == 0 {
		return nil
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return fmt.Errorf("clear setuid/setgid of %s: %w", host, err)
	}
	return nil
}

// AddBytes stores data and returns its SHA256.
func (s *Store) AddBytes(data []byte) (string, error) {
	r, err := s.fs()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	dst := s.Path(sum)
	if _, err := r.lstat(dst); err == nil {
		return sum, nil
	}
	if err := s.mkdir(r, filepath.Dir(dst)); err != nil {
		return "", err
	}
	return sum, s.writeFrom(r, dst, func(f *os.File) error { _, err := f.Write(data); return err })
}

// writeFrom creates dst through a temporary name, so that the store never
// holds a partial content under a real name (after a crash, the name may
// hold a content whose blocks did not reach the disk: Restore checks the
// hash of everything it uses).
func (s *Store) writeFrom(r *rootFS, dst string, fill func(*os.File) error) error {
	err := r.replace(dst, func(f *os.File) error {
		if err := f.Chmod(0o644); err != nil {
			return err
		}
		return fill(f)
	})
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	return nil
}

// cloneOrCopy fills dst with src's content: FICLONE shares the blocks on a
// file system that can (btrfs, xfs); otherwise a copy (copy_file_range).
func cloneOrCopy(dst, src *os.File) error {
	if err := unix.IoctlFileClone(int(dst.Fd()), int(src.Fd())); err == nil {
		return nil
	}
	_, err := io.Copy(dst, src)
	return err
}

// Check verifies that content sum is stored intact. A damaged content is
// deleted, so that the next rollback that needs it looks in the package
// cache instead (and says it is missing when it is not there).
func (s *Store) Check(sum string) error {
	r, err := s.fs()
	if err != nil {
		return err
	}
	got, err := r.sha256(s.Path(sum))
	if err != nil {
		return fmt.Errorf("content store: %s: %w", sum, err)
	}
	if got != sum {
		_ = r.remove(s.Path(sum), false)
		return fmt.Errorf("content store: %s was damaged (its content hashed to %s; deleted)", s.Path(sum), got)
	}
	return nil
}

// Read returns content sum, checked.
func (s *Store) Read(sum string) ([]byte, error) {
	r, err := s.fs()
	if err != nil {
		return nil, err
	}
	b, err := r.readFile(s.Path(sum))
	if err != nil {
		return nil, fmt.Errorf("content store: %s: %w", sum, err)
	}
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum {
		return nil, fmt.Errorf("content store: %s is damaged (its content hashes to %s)", s.Path(sum), got)
	}
	return b, nil
}

// hashes returns the SHA256 and MD5 of stored content sum, read once.
func (s *Store) hashes(sum string) (string, string, error) {
	r, err := s.fs()
	if err != nil {
		return "", "", err
	}
	return r.hashes(s.Path(sum))
}

// stat describes stored content sum (not following a symlink).
func (s *Store) stat(sum string) (unix.Stat_t, error) {
	r, err := s.fs()
	if err != nil {
		return unix.Stat_t{}, err
	}
	return r.lstat(s.Path(sum))
}

// Restore creates dst (a host path inside the store's root, which must
// not exist) with content f.SHA256 and f's mode and owner, after checking
// the stored content's hash: a hard link to the store when link is set,
// the stored inode already has that mode and owner and no other name uses
// it (a root file sharing an inode with another path would change with
// it: a chmod in a maintainer script, say), a copy otherwise, with the
// stored content's modification time, as a link has.
func (s *Store) Restore(dst string, f pkgdb.File, link bool, euid int) error {
	if err := s.Check(f.SHA256); err != nil {
		return err
	}
	r, err := s.fs()
	if err != nil {
		return err
	}
	src := s.Path(f.SHA256)
	if link {
		if st, err := r.lstat(src); err == nil {
			if st.Nlink == 1 && modeWord(statInfo{src, st}.Mode()) == f.Mode && (euid != 0 || (int(st.Uid) == f.Uid && int(st.Gid) == f.Gid)) {
				if err := r.link(src, dst); err == nil {
					return nil
				}
			}
		}
	}
	in, err := r.open(src)
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	defer in.Close()
	out, err := r.create(dst)
	if err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	err = cloneOrCopy(out, in)
	if err == nil {
		err = out.Chmod(unixMode(fs.FileMode(f.Mode&0o777)) | setBits(f.Mode))
	}
	if err == nil {
		// A copy of a package's file keeps its time, as unpacking and
		// a link do (py3compile writes the .py's time into each .pyc).
		var st unix.Stat_t
		if err = unix.Fstat(int(in.Fd()), &st); err == nil {
			var dfd int
			var name string
			if dfd, name, err = r.at(dst); err == nil {
				err = unix.UtimesNanoAt(dfd, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
			}
		}
	}
	if err == nil && euid == 0 {
		err = out.Chown(f.Uid, f.Gid)
		if err == nil && f.Mode&0o7000 != 0 {
			// chown clears setuid/setgid.
			err = out.Chmod(unixMode(fs.FileMode(f.Mode&0o777)) | setBits(f.Mode))
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.remove(dst, false)
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	return nil
}

// setBits turns the setuid/setgid/sticky bits of a Unix mode word into
// Go's flags.
func setBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// LinksObject reports whether a Snapshot install of rec links its file
// path from Install.Objects: a file whose content is restored as a copy
// (copyInStore) comes from the root's content store instead, so a caller
// must put it there.
func LinksObject(rec *pkgdb.Package, path string) bool {
	return !copyInStore(path, rec.Conffile(path) != nil)
}

// copyInStore reports whether a path's content is stored (and restored)
// as a copy: files under /etc and conffiles are edited in place.
func copyInStore(path string, conffile bool) bool {
	return conffile || path == "/etc" || strings.HasPrefix(path, "/etc/")
}

// rootContents finds contents the store lacks in the root itself. A
// content enters the store only when it leaves the root (the journal of
// the transaction that replaces or removes the file links or copies it
// first, pathState), so a file installed and never replaced since is
// only in the root: a rollback that needs its content (a package whose
// record changed but not that file, say) takes it from there. Every
// candidate is hashed before it counts: a file changed in place since it
// was recorded is no source.
type rootContents struct {
	root  string
	files map[string][]rootFile // SHA256 -> recorded regular files with it

	mu    sync.Mutex
	found map[string]rootFile // SHA256 -> a file checked to hold it
	// rfs reads the root (inroot.go).
	rfs *rootFS
}

// rootFile is a recorded regular file and whether its content is stored
// as a copy (copyInStore).
type rootFile struct {
	path string
	copy bool
}

// rootFS returns the root opened as an os.Root (the stager's, or one
// opened on first use), nil when it cannot be opened.
func (rc *rootContents) rootFS() *rootFS {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rfs == nil {
		r, err := openRootFS(rc.root)
		if err != nil {
			return nil
		}
		rc.rfs = r
	}
	return rc.rfs
}

// newRootContents indexes the regular files pkgs record by SHA256.
func newRootContents(root string, pkgs []*pkgdb.Package) *rootContents {
	rc := &rootContents{root: root, files: map[string][]rootFile{}, found: map[string]rootFile{}}
	for _, p := range pkgs {
		for _, f := range p.Files {
			if f.Type != pkgdb.TypeRegular || f.SHA256 == "" {
				continue
			}
			rc.files[f.SHA256] = append(rc.files[f.SHA256], rootFile{path: f.Path, copy: copyInStore(f.Path, p.Conffile(f.Path) != nil)})
		}
	}
	return rc
}

// find returns the host path of a file in the root whose content hashes
// to sum, and whether the store keeps it as a copy.
func (rc *rootContents) find(sum string) (host string, copy, ok bool) {
	rc.mu.Lock()
	f, done := rc.found[sum]
	rc.mu.Unlock()
	rfs := rc.rootFS()
	if rfs == nil {
		return "", false, false
	}
	if done {
		h, err := rfs.resolve(f.path, false)
		return h, f.copy, err == nil
	}
	for _, f := range rc.files[sum] {
		h, err := rfs.resolve(f.path, false)
		if err != nil {
			continue
		}
		// Not a regular file: hashes as "type:...", never sum.
		if got, err := rfs.sha256(h); err != nil || got != sum {
			continue
		}
		rc.mu.Lock()
		rc.found[sum] = f
		rc.mu.Unlock()
		return h, f.copy, true
	}
	return "", false, false
}

// has reports whether content sum is in the store or in the root.
func (rc *rootContents) has(store *Store, sum string) bool {
	if store.Has(sum) {
		return true
	}
	_, _, ok := rc.find(sum)
	return ok
}

// fill enters content sum into the store from the root when the store
// lacks it and the root has it. An error leaves the store without it,
// and the restore that needed it reports it missing.
func (rc *rootContents) fill(store *Store, sum string) {
	if store.Has(sum) {
		return
	}
	if host, copy, ok := rc.find(sum); ok {
		_, _ = store.Add(host, sum, copy)
	}
}
