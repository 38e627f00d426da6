package apps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb"
)

// privateTop are the top-level directories of an app root whose files are
// never shared: configuration and state an app or a script may change.
var privateTop = map[string]bool{
	"etc": true, "var": true, "tmp": true, "run": true, "home": true,
	"root": true, "proc": true, "dev": true, "srv": true,
}

// storeDir is the shared content store of every app root.
func (a *Apps) storeDir() string { return filepath.Join(a.Dir, ".store", "objects") }

// share replaces each regular file of root outside privateTop by a hard
// link to the store object of the same content, mode and owner, adding the
// object when the store lacks it. Store objects are read-only: their
// write bits are cleared when they enter the store, so a file linked to
// one has the package's mode without its write bits (readOnly; recordModes
// writes that into the root's package records). hints are the object
// keys of files that may already be links to them (installed from the
// store): one that is needs no hashing; objects, when not nil, holds the
// inode of each hinted object warmPlan looked at (by key), which saves
// looking at it again. It returns how many files are links to the store
// afterwards, their object keys by path (absolute inside the root) and
// their sizes and times as found (for the seal).
func (a *Apps) share(ctx context.Context, root string, hints map[string]string, objects map[string]uint64) (int, map[string]string, map[string]stamp, error) {
	n := 0
	keys := map[string]string{}
	stamps := map[string]stamp{}
	buf := make([]byte, 64<<10)
	// hints name files by their packages' paths; the walk finds a file
	// under a directory link (/lib -> usr/lib) by the link's target.
	if len(hints) > 0 {
		canon, err := newCanonical(root)
		if err != nil {
			return 0, nil, nil, err
		}
		byWalk := make(map[string]string, len(hints))
		for p, key := range hints {
			byWalk[canon.path(p)] = key
		}
		canon.Close()
		hints = byWalk
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		if d.IsDir() {
			if p != root && privateTop[top] {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		abs := "/" + filepath.ToSlash(rel)
		if key, ok := hints[abs]; ok {
			if fi, err := os.Lstat(p); err == nil && a.isObject(fi, key, objects) {
				n++
				keys[abs] = key
				stamps[abs] = stampOf(fi)
				return nil
			}
		}
		key, err := a.shareFile(p, buf)
		if err != nil {
			return fmt.Errorf("share %s: %w", p, err)
		}
		if key != "" {
			n++
			keys[abs] = key
		}
		return nil
	})
	return n, keys, stamps, err
}

// isObject reports whether fi (a file of a root) is the store object key:
// its inode, by objects when it has the key, else by a look at the
// object.
func (a *Apps) isObject(fi fs.FileInfo, key string, objects map[string]uint64) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ino, known := objects[key]; known && ok {
		// Hard links: the same file system as the store.
		return st.Ino == ino && st.Nlink > 1
	}
	oi, err := os.Lstat(a.objectPath(key))
	return err == nil && os.SameFile(fi, oi)
}

// stamp is a file's size and modification time (nanoseconds since 1970)
// as a seal records them.
type stamp struct{ size, mtime int64 }

func stampOf(fi fs.FileInfo) stamp {
	return stamp{fi.Size(), fi.ModTime().UnixNano()}
}

// canonical turns the paths of a root's package records into the paths
// of the same files with every directory link resolved inside the root
// (rootfs.Resolve): on a merged /usr, "/lib/x86_64-linux-gnu/libc.so.6"
// is "/usr/lib/x86_64-linux-gnu/libc.so.6", the name a walk of the root
// finds. Each directory is resolved once.
type canonical struct {
	r    *os.Root
	host string            // the root's host path
	dirs map[string]string // directory -> resolved ("": unresolvable)
}

func newCanonical(root string) (*canonical, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	return &canonical{r: r, host: root, dirs: map[string]string{}}, nil
}

// path returns p (absolute inside the root) with its directory resolved;
// p itself when that fails.
func (c *canonical) path(p string) string {
	dir, base := path.Split(p)
	d := c.dir(path.Clean(dir))
	if d == "" {
		return p
	}
	return path.Join(d, base)
}

// dir resolves the directory d (absolute, clean) from its parent's
// resolution: when its own name there is no symlink (one lstat, the
// usual case), that is it; otherwise rootfs.Resolve follows the link
// inside the root. "" when it cannot be resolved. (Resolving each
// directory from the root, component by component, was a third of
// share's time for a 7,700-file app.)
func (c *canonical) dir(d string) string {
	if d == "/" {
		return "/"
	}
	if v, ok := c.dirs[d]; ok {
		return v
	}
	v := ""
	if parent := c.dir(path.Dir(d)); parent != "" {
		cand := path.Join(parent, path.Base(d))
		// parent has no link on its way, so the host path is the path
		// inside the root.
		fi, err := os.Lstat(filepath.Join(c.host, filepath.FromSlash(cand)))
		switch {
		case err == nil && fi.IsDir():
			v = cand
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			if rel, err := rootfs.Resolve(c.r, d, true); err == nil {
				v = path.Join("/", rel)
			}
		}
	}
	c.dirs[d] = v
	return v
}

func (c *canonical) Close() error { return c.r.Close() }

// readOnly is the mode of a store object made from a file of mode m:
// without write bits (setuid, setgid and sticky kept).
func readOnly(m uint32) uint32 { return m &^ 0o222 }

// objectKey names a file's store object: content digest, permission bits
// and owner (a hard link shares all three). The bits are the object's own,
// without write bits (readOnly), so that a file that already lost them (a
// copy of an object, installed from a manifest whose record has the
// object's mode) and the same file as its package made it (with them)
// name one object. buf is the read buffer.
func objectKey(p string, fi fs.FileInfo, buf []byte) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	// Not io.Copy: from an *os.File it allocates a fresh 32 KiB buffer
	// for every file (os.File's WriteTo), and share hashes thousands.
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return "", err
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%s-%o-%d-%d", hex.EncodeToString(h.Sum(nil)), readOnly(uint32(st.Mode&0o7777)), st.Uid, st.Gid), nil
}

// shareFile links p to its store object (adding it when missing) and
// returns the object's key when p is a link to it afterwards ("" when p
// stays a copy). buf is objectKey's read buffer.
func (a *Apps) shareFile(p string, buf []byte) (string, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	key, err := objectKey(p, fi, buf)
	if err != nil {
		return "", err
	}
	st := fi.Sys().(*syscall.Stat_t)
	mode := uint32(st.Mode & 0o7777)
	changed := uint32(0)
	if readOnly(mode) != mode {
		changed = readOnly(mode)
	}
	obj := filepath.Join(a.storeDir(), key[:2], key)
	if oi, err := os.Lstat(obj); err == nil {
		if os.SameFile(oi, fi) {
			return key, nil
		}
		if oi.Size() != fi.Size() {
			// The object was written outside grey (seal.go): never link
			// a new root to it; this file stays a private copy until
			// "grey app verify --repair".
			return "", nil
		}
		tmp := filepath.Join(filepath.Dir(p), ".grey-link-"+key[:16])
		os.Remove(tmp)
		if err := os.Link(obj, tmp); err != nil {
			if errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EXDEV) {
				return "", nil // too many links, or another file system: keep the copy
			}
			return "", err
		}
		if err := os.Rename(tmp, p); err != nil {
			os.Remove(tmp)
			return "", err
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(obj), 0o755); err != nil {
		return "", err
	}
	// The file becomes the object: read-only first, so that the object
	// never has write bits.
	if changed != 0 {
		if err := syscall.Chmod(p, changed); err != nil {
			return "", err
		}
	}
	if err := os.Link(p, obj); err != nil {
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) {
			if changed != 0 {
				syscall.Chmod(p, mode) // stays a private copy, as the package made it
			}
			return "", nil
		}
		if errors.Is(err, os.ErrExist) {
			if changed != 0 {
				syscall.Chmod(p, mode)
			}
			return a.shareFile(p, buf) // added meanwhile: link to it
		}
		return "", err
	}
	return key, nil
}

// PruneStore removes what is left of removed apps (.removed-*), then the
// store objects no app root links to any more (a link count of one), and
// returns how many objects it removed.
func (a *Apps) PruneStore() (int, error) {
	// An app removed (renamed to .removed-NAME-T) whose deletion a
	// crash cut short still links its objects: finish it first.
	gone, err := filepath.Glob(filepath.Join(a.Dir, ".removed-*"))
	if err != nil {
		return 0, err
	}
	for _, d := range gone {
		if err := os.RemoveAll(d); err != nil {
			return 0, err
		}
	}
	n := 0
	err = filepath.WalkDir(a.storeDir(), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 1 {
			if err := os.Remove(p); err != nil {
				return err
			}
			n++
			if err := a.hook("store-object"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	// Empty fan-out directories go too (os.Remove keeps the others).
	ents, _ := os.ReadDir(a.storeDir())
	for _, e := range ents {
		os.Remove(filepath.Join(a.storeDir(), e.Name()))
	}
	if err := a.hook("store-objects"); err != nil {
		return n, err
	}
	return n, a.pruneManifests()
}

// recordModes writes into the package records of the root at root the
// mode its shared files have now (the package's without write bits), so
// that "grey --root ROOT verify" finds what the records say. Only a
// difference of write bits is taken over; anything else stays for verify
// to report.
func recordModes(root string) error {
	db, err := pkgdb.Open(root, pkgdb.Options{})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			changed := false
			for i := range p.Files {
				f := &p.Files[i]
				if f.Type != pkgdb.TypeRegular || readOnly(f.Mode) == f.Mode {
					continue
				}
				top, _, _ := strings.Cut(strings.TrimPrefix(f.Path, "/"), "/")
				if privateTop[top] {
					continue
				}
				var st syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(root, filepath.FromSlash(f.Path)), &st); err != nil {
					continue // diverted or gone: verify says so
				}
				if got := uint32(st.Mode & 0o7777); got == readOnly(f.Mode) {
					f.Mode = got
					changed = true
				}
			}
			if changed {
				if err := pkgdb.PutPackage(tx, p); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record modes in %s: %w", root, err)
	}
	return nil
}

// Sizes are what a root takes on disk.
type Sizes struct {
	// Apparent is the size of every regular file, each name counted.
	Apparent int64 `json:"apparent_bytes"`
	// Disk is the blocks of every inode of the root, each counted once.
	Disk int64 `json:"disk_bytes"`
	// Unique is the part of Disk no other root uses: inodes whose every
	// link but the store's is in this root (removing the root frees
	// them). Disk - Unique is shared with other apps or generations.
	Unique int64 `json:"unique_bytes"`
}

// SizeOf measures the root at dir.
func SizeOf(dir string) (Sizes, error) {
	type ino struct {
		links  uint64 // links found in the root
		nlink  uint64
		blocks int64
	}
	seen := map[[2]uint64]*ino{}
	var s Sizes
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			s.Apparent += st.Size
		}
		k := [2]uint64{st.Dev, st.Ino}
		i := seen[k]
		if i == nil {
			i = &ino{nlink: uint64(st.Nlink), blocks: st.Blocks * 512}
			if d.IsDir() {
				i.nlink = 0 // a directory's links are its subdirectories'
			}
			seen[k] = i
		}
		i.links++
		return nil
	})
	for _, i := range seen {
		s.Disk += i.blocks
		if i.nlink <= i.links+1 || i.nlink == 0 {
			s.Unique += i.blocks
		}
	}
	return s, err
}
