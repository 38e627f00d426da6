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
type Store struct {
	// Dir is the store's directory on the host.
	Dir string
	// LinkShared lets Restore link a content that has other names too
	// (Options.LinkShared).
	LinkShared bool
}

// OpenStore returns the content store of the root at root (it is created
// as contents are added).
func OpenStore(root string) *Store {
	return &Store{Dir: filepath.Join(root, filepath.FromSlash(StoreDir))}
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
	_, err := os.Lstat(s.Path(sum))
	return err == nil
}

// Add enters the regular file at p, whose content has SHA256 sum, into the
// store: a hard link unless copy is set or the store is on another file
// system, a copy (a reflink where the file system can) otherwise. Content
// already stored is left as it is. Nothing is synced: Add returns the
// stored path when it added one ("" otherwise), so that a caller that
// needs it durable syncs it (and its directory) with others at once.
func (s *Store) Add(p, sum string, copy bool) (string, error) {
	dst := s.Path(sum)
	if _, err := os.Lstat(dst); err == nil {
		return "", nil
	}
	if err := s.mkdir(filepath.Dir(dst)); err != nil {
		return "", err
	}
	if !copy {
		err := os.Link(p, dst)
		if err == nil {
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) {
			return "", nil
		}
		if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EMLINK) {
			return "", fmt.Errorf("content store: link %s: %w", p, err)
		}
	}
	src, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("content store: %w", err)
	}
	defer src.Close()
	return dst, s.writeFrom(dst, func(f *os.File) error { return cloneOrCopy(f, src) })
}

// mkdir makes the store's directory dir (a hash prefix). The store itself
// is mode 0700, an older one's mode is changed to it: the store holds hard
// links to the root's files, setuid and setgid binaries among them, and a
// user who could reach them could keep running an old setuid binary after
// it left the root (its bits are cleared then, see disarm, but a link
// taken while it is installed shares the inode until then).
func (s *Store) mkdir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(s.Dir), 0o755); err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	if err := os.Mkdir(s.Dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("content store: %w", err)
	}
	if fi, err := os.Lstat(s.Dir); err != nil {
		return fmt.Errorf("content store: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("content store: %s is not a directory", s.Dir)
	} else if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(s.Dir, 0o700); err != nil {
			return fmt.Errorf("content store: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("content store: %w", err)
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
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	dst := s.Path(sum)
	if _, err := os.Lstat(dst); err == nil {
		return sum, nil
	}
	if err := s.mkdir(filepath.Dir(dst)); err != nil {
		return "", err
	}
	return sum, s.writeFrom(dst, func(f *os.File) error { _, err := f.Write(data); return err })
}

// writeFrom creates dst through a temporary name, so that the store never
// holds a partial content under a real name (after a crash, the name may
// hold a content whose blocks did not reach the disk: Restore checks the
// hash of everything it uses).
func (s *Store) writeFrom(dst string, fill func(*os.File) error) error {
	tmp := filepath.Join(filepath.Dir(dst), randomName())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("content store: write %s: %w", dst, err)
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
	got, err := fileSHA256(s.Path(sum))
	if err != nil {
		return fmt.Errorf("content store: %s: %w", sum, err)
	}
	if got != sum {
		_ = os.Remove(s.Path(sum))
		return fmt.Errorf("content store: %s was damaged (its content hashed to %s; deleted)", s.Path(sum), got)
	}
	return nil
}

// Read returns content sum, checked.
func (s *Store) Read(sum string) ([]byte, error) {
	b, err := os.ReadFile(s.Path(sum))
	if err != nil {
		return nil, fmt.Errorf("content store: %s: %w", sum, err)
	}
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum {
		return nil, fmt.Errorf("content store: %s is damaged (its content hashes to %s)", s.Path(sum), got)
	}
	return b, nil
}

// Restore creates dst (which must not exist) with content f.SHA256 and f's
// mode and owner, after checking the stored content's hash: a hard link to
// the store when link is set, the stored inode already has that mode and
// owner and no other name uses it (a root file sharing an inode with
// another path would change with it: a chmod in a maintainer script, say;
// LinkShared lifts this last condition), a copy otherwise.
func (s *Store) Restore(dst string, f pkgdb.File, link bool, euid int) error {
	if err := s.Check(f.SHA256); err != nil {
		return err
	}
	src := s.Path(f.SHA256)
	if link {
		if fi, err := os.Stat(src); err == nil {
			st, ok := fi.Sys().(*syscall.Stat_t)
			if ok && (st.Nlink == 1 || s.LinkShared) && modeWord(fi.Mode()) == f.Mode && (euid != 0 || (int(st.Uid) == f.Uid && int(st.Gid) == f.Gid)) {
				if err := os.Link(src, dst); err == nil {
					return nil
				}
			}
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscallNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", dst, err)
	}
	err = cloneOrCopy(out, in)
	if err == nil {
		err = out.Chmod(unixMode(fs.FileMode(f.Mode&0o777)) | setBits(f.Mode))
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
		_ = os.Remove(dst)
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
