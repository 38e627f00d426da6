package image

import (
	"bytes"
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

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

// ComposeOptions configure Compose.
type ComposeOptions struct {
	// CacheDir receives the downloaded .deb files (in
	// var/cache/grey/archives below it); a file already there with the
	// locked SHA256 is not fetched again. It is never inside the image.
	CacheDir string
	// Fetcher downloads; required.
	Fetcher transaction.Fetcher
	// ScriptOutput receives maintainer scripts' output when the spec runs
	// them; nil discards it.
	ScriptOutput io.Writer
}

// PackageError is a locked package that could not be fetched or did not
// match its lock entry.
type PackageError struct {
	Package string
	Err     error
}

func (e *PackageError) Error() string {
	if strings.HasPrefix(e.Err.Error(), e.Package+"_") {
		return e.Err.Error() // already starts with name_version_arch
	}
	return fmt.Sprintf("package %s: %v", e.Package, e.Err)
}

// Unwrap returns the cause.
func (e *PackageError) Unwrap() error { return e.Err }

// Compose installs exactly the packages of l into dir, which must not exist
// or be empty, then writes the spec's extra files, groups and users. dir is
// then a dpkg root and a grey root. Scripts run only when the spec says so.
// The database is rewritten compactly in key order so that its bytes depend
// only on its content.
func Compose(ctx context.Context, s *Spec, l *Lock, dir string, opts ComposeOptions) (*transaction.Result, error) {
	if opts.Fetcher == nil {
		return nil, errors.New("compose: no fetcher")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("compose: no cache directory")
	}
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	pending := &transaction.Pending{}
	url := map[*deb.Package]string{}
	for _, lp := range l.Packages {
		p, err := lp.debPackage()
		if err != nil {
			return nil, err
		}
		pending.Install = append(pending.Install, transaction.Wanted{Package: p, Auto: lp.Auto})
		url[p] = lp.URL
	}
	// The cache may be shared by concurrent builds: hold its lock while
	// downloading into it.
	lk, err := pkgdb.LockRoot(ctx, opts.CacheDir, pkgdb.LockOptions{})
	if err != nil {
		return nil, err
	}
	plan, err := pending.Download(ctx, transaction.DownloadOptions{
		Fetcher: opts.Fetcher, Dir: opts.CacheDir,
		URL: func(p *deb.Package) (string, error) { return url[p], nil },
	})
	if uerr := lk.Unlock(); err == nil && uerr != nil {
		return nil, uerr
	}
	if err != nil {
		var de *transaction.DownloadError
		if errors.As(err, &de) {
			// Download prefixes each error with the package
			// (name_version_arch); give each one typed, by name.
			var errs []error
			for _, e := range de.Errs {
				name := ""
				for _, w := range pending.Install {
					if strings.HasPrefix(e.Error(), w.Package.String()+": ") {
						name = w.Package.Name
					}
				}
				errs = append(errs, &PackageError{Package: name, Err: e})
			}
			return nil, errors.Join(errs...)
		}
		return nil, err
	}

	// The directories grey's own state goes into exist before the
	// packages, so their modes must not come from the umask.
	for _, d := range []string{"var/lib/grey", "var/lib/dpkg"} {
		if err := mkdirParents(dir, filepath.Join(dir, filepath.FromSlash(d))); err != nil {
			return nil, err
		}
	}
	root, err := transaction.OpenRoot(ctx, dir, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		return nil, err
	}
	res, err := transaction.Apply(ctx, root.DB, plan, transaction.Options{
		Root: root.Dir, NoScripts: !s.Scripts, ScriptOutput: opts.ScriptOutput,
		// The history entry is part of the image: dated with
		// source-date-epoch, no host user, the spec by its base name.
		Now:     func() time.Time { return time.Unix(s.SourceDateEpoch, 0).UTC() },
		Command: []string{"grey", "image", "build", filepath.Base(s.Path)},
	})
	if cerr := root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := AddExtras(dir, s); err != nil {
		return nil, err
	}
	// The lock file records the pid of its last holder: host state.
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(pkgdb.LockPath))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := compactDB(filepath.Join(dir, filepath.FromSlash(pkgdb.Path))); err != nil {
		return nil, err
	}
	for _, d := range []string{"var/lib/grey", "var/lib/dpkg"} {
		if err := normalizeModes(filepath.Join(dir, filepath.FromSlash(d))); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// AddExtras writes what a spec adds to the packages into the root at dir:
// its groups and users (appended to etc/group and etc/passwd, refusing a
// name or id already there), then its extra files (each written through
// an os.Root of dir, so that no symlink in the root leads outside). Compose
// calls it after the packages; so does "grey app install --spec".
func AddExtras(dir string, s *Spec) error {
	if err := addAccounts(dir, s); err != nil {
		return err
	}
	return addFiles(dir, s.Files)
}

// normalizeModes makes the modes under dir, which holds package managers'
// state written by grey (not package contents), independent of the umask:
// directories 0755, dpkg's lock files 0640 (as dpkg and apt make them),
// files 0755 when their owner may execute them (maintainer scripts in
// dpkg's info/) and 0644 otherwise. A file with
// several links may be a package's own file that the content store shares
// (a later transaction stores what it displaces by hard link) and keeps
// its mode; the store's copies (one link) are normalized like the rest.
func normalizeModes(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		var want os.FileMode
		switch m := fi.Mode(); {
		case m.IsDir():
			want = 0o755
		case !m.IsRegular():
			return nil
		case d.Name() == "lock" || d.Name() == "lock-frontend":
			want = 0o640 // as dpkg and apt create their locks
		case linkCount(fi) > 1:
			return nil // shared with a package's file
		case m&0o100 != 0:
			want = 0o755
		default:
			want = 0o644
		}
		if fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == want {
			return nil
		}
		return os.Chmod(p, want)
	})
}

func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// emptyDir creates dir or checks that it is empty: an image is never
// composed over existing files.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create image root: %w", err)
		}
		return os.Chmod(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("image root: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("image root %s is not empty", dir)
	}
	return nil
}

// compactDB rewrites the bbolt file at path into a fresh one, buckets and
// keys copied in key order. bbolt's page layout depends on the history of
// writes, and even within one transaction on Go's random map order (a
// transaction spills the buckets it touched in map order, which decides
// their page numbers). So the copy commits whenever it moves to another
// bucket: every transaction touches one bucket path only, and the file's
// bytes depend only on its content.
func compactDB(path string) error {
	src, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dst, err := bolt.Open(tmp, 0o644, &bolt.Options{NoSync: true})
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	c := &copier{dst: dst}
	err = src.View(func(stx *bolt.Tx) error {
		return stx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return c.copyBucket(b, [][]byte{name})
		})
	})
	if err == nil {
		err = c.commit()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return nil
}

// copier writes into dst one bucket path per transaction.
type copier struct {
	dst  *bolt.DB
	tx   *bolt.Tx
	path string
	size int
}

// maxTxBytes bounds one transaction's memory on a large bucket.
const maxTxBytes = 8 << 20

// bucket returns the bucket at keys in a transaction that has touched no
// other bucket path, creating the bucket (with seq) when create is set.
func (c *copier) bucket(keys [][]byte, create bool, seq uint64) (*bolt.Bucket, error) {
	var id strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&id, "%d:%s/", len(k), k)
	}
	if c.tx != nil && (id.String() != c.path || c.size > maxTxBytes || create) {
		if err := c.commit(); err != nil {
			return nil, err
		}
	}
	if c.tx == nil {
		tx, err := c.dst.Begin(true)
		if err != nil {
			return nil, err
		}
		c.tx, c.path, c.size = tx, id.String(), 0
	}
	if create {
		var b *bolt.Bucket
		var err error
		if len(keys) == 1 {
			b, err = c.tx.CreateBucket(keys[0])
		} else {
			parent := c.tx.Bucket(keys[0])
			for _, k := range keys[1 : len(keys)-1] {
				parent = parent.Bucket(k)
			}
			b, err = parent.CreateBucket(keys[len(keys)-1])
		}
		if err != nil {
			return nil, err
		}
		if err := b.SetSequence(seq); err != nil {
			return nil, err
		}
		// The bucket's own page is the parent's change: commit it on
		// its own before the bucket's keys.
		if err := c.commit(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	b := c.tx.Bucket(keys[0])
	for _, k := range keys[1:] {
		b = b.Bucket(k)
	}
	b.FillPercent = 1.0
	return b, nil
}

func (c *copier) commit() error {
	if c.tx == nil {
		return nil
	}
	err := c.tx.Commit()
	c.tx = nil
	return err
}

func (c *copier) copyBucket(src *bolt.Bucket, keys [][]byte) error {
	if _, err := c.bucket(keys, true, src.Sequence()); err != nil {
		return err
	}
	cur := src.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if v == nil {
			sub := append(append([][]byte(nil), keys...), k)
			if err := c.copyBucket(src.Bucket(k), sub); err != nil {
				return err
			}
			continue
		}
		b, err := c.bucket(keys, false, 0)
		if err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
		c.size += len(k) + len(v)
	}
	return nil
}

// addFiles writes the spec's extra files through an os.Root of the
// image, each path resolved inside it as in a chroot (internal/rootfs), so
// that a symlink a package ships cannot lead the write outside.
func addFiles(root string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, f := range files {
		var data []byte
		if f.Source != "" {
			b, err := os.ReadFile(f.Source)
			if err != nil {
				return fmt.Errorf("extra file %s: %w", f.Path, err)
			}
			data = b
		} else {
			data = []byte(f.Content)
		}
		rel, err := writeInRoot(r, f.Path, data, f.Mode.Perm())
		if err != nil {
			return fmt.Errorf("extra file %s: %w", f.Path, err)
		}
		if err := r.Lchown(rel, f.UID, f.GID); err != nil {
			return fmt.Errorf("extra file %s: %w", f.Path, err)
		}
		// Chmod after chown: chown clears setuid and setgid bits.
		if err := r.Chmod(rel, f.Mode); err != nil {
			return fmt.Errorf("extra file %s: %w", f.Path, err)
		}
	}
	return nil
}

// writeInRoot replaces name in r (a symlink there followed inside the
// root, as the file it names is what is meant) with data and mode perm,
// its missing parents made with mode 0755, and returns its resolved
// relative path.
func writeInRoot(r *os.Root, name string, data []byte, perm os.FileMode) (string, error) {
	rel, err := rootfs.Resolve(r, name, true)
	if err != nil {
		return "", err
	}
	if rel == "." {
		return "", fmt.Errorf("%s is the root", name)
	}
	return rootfs.WriteFile(r, rel, data, perm, true)
}

// mkdirParents creates dir (inside root) and its missing parents with mode
// 0755, independent of the umask.
func mkdirParents(root, dir string) error {
	if dir == root || len(dir) < len(root) {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := mkdirParents(root, filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// addAccounts appends the spec's groups and users to etc/group and
// etc/passwd, in the spec's order, refusing a name or id already there.
func addAccounts(root string, s *Spec) error {
	var glines, plines []string
	for _, g := range s.Groups {
		glines = append(glines, fmt.Sprintf("%s:x:%d:%s", g.Name, g.GID, strings.Join(g.Members, ",")))
	}
	for _, u := range s.Users {
		plines = append(plines, fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.Name, u.UID, u.GID, u.Gecos, u.Home, u.Shell))
	}
	if err := appendAccounts(root, "/etc/group", glines); err != nil {
		return err
	}
	return appendAccounts(root, "/etc/passwd", plines)
}

func appendAccounts(root, name string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	old, err := rootfs.ReadFile(r, name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, err)
	}
	names, ids := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(string(old), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 {
			names[f[0]], ids[f[2]] = true, true
		}
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && old[len(old)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, l := range lines {
		f := strings.Split(l, ":")
		if names[f[0]] {
			return fmt.Errorf("%s: %s already exists in the image", name, f[0])
		}
		if ids[f[2]] {
			return fmt.Errorf("%s: %s: id %s is already taken in the image", name, f[0], f[2])
		}
		names[f[0]], ids[f[2]] = true, true
		b.WriteString(l)
		b.WriteByte('\n')
	}
	mode := os.FileMode(0o644)
	if fi, err := rootfs.Stat(r, name); err == nil {
		mode = fi.Mode().Perm()
	}
	if _, err := writeInRoot(r, name, b.Bytes(), mode); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
