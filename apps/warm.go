package apps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/digest"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

// A warm store composes without unpacking. After a generation is
// composed, each package installed from a .deb leaves a manifest in the
// store, named by the .deb's SHA-256: the package's record (a
// transaction Snapshot), the store object of each shared file, and the
// contents of its private files and dpkg info files (blobs). A later
// compose whose plan has a .deb with a complete manifest installs that
// package from the Snapshot instead (transaction.Install.Snapshot): its
// shared files are linked into the root straight from their objects
// (transaction.Install.Objects) without maintainer scripts, so nothing is
// decoded, copied or hashed twice.

// manifest is what the store keeps of one package installed from a .deb.
type manifest struct {
	Snapshot pkgdb.Snapshot `json:"snapshot"`
	// Objects maps each shared regular file (absolute path in the root)
	// to its store object key.
	Objects map[string]string `json:"objects"`
}

func (a *Apps) manifestPath(debSum string) string {
	return filepath.Join(a.Dir, ".store", "manifests", debSum+".json")
}

func (a *Apps) blobPath(sum string) string {
	return filepath.Join(a.Dir, ".store", "blobs", sum[:2], sum)
}

func (a *Apps) objectPath(key string) string { return filepath.Join(a.storeDir(), key[:2], key) }

// debSum is the SHA-256 of a plan item's .deb: the index's, else hashed.
func debSum(it transaction.Install) (string, error) {
	if it.SHA256 != "" {
		return it.SHA256, nil
	}
	return fileSum(it.Path)
}

func fileSum(p string) (string, error) { return digest.File(p) }

// warmPlan replaces each item of plan whose .deb has a usable manifest
// by an install from its Snapshot. Without copy, each shared file is
// named in the Install's Objects, which the transaction hard-links from
// the object straight into the root; with copy (maintainer scripts will
// run: nothing they can reach may be shared), and for the private files
// and info files either way, the contents are put into the content store
// of the root at dir as copies. It returns the object key of each file
// linked to an object (for share), how many packages it replaced, and the
// file contents it put into the root's store, which the caller removes
// after the transaction (a root composed from .debs has none there).
// inodes receives the inode of each object it looked at, by key.
func (a *Apps) warmPlan(dir string, plan *transaction.Plan, copy bool, inodes map[string]uint64) (map[string]string, int, []string, error) {
	hints := map[string]string{}
	n := 0
	var added []string
	rs := transaction.OpenStore(dir)
	made := map[string]bool{} // store directories known to exist
	for i, it := range plan.Install {
		if it.Snapshot != nil || it.Path == "" {
			continue
		}
		sum, err := debSum(it)
		if err != nil {
			return nil, 0, added, err
		}
		b, err := os.ReadFile(a.manifestPath(sum))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, added, err
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil || m.Snapshot.Package == nil {
			continue // damaged: unpack the .deb as if there were none
		}
		if !a.usable(&m, inodes) {
			continue
		}
		var objects map[string]string
		for _, f := range m.Snapshot.Package.Files {
			if f.Type != pkgdb.TypeRegular {
				continue
			}
			key, ok := m.Objects[f.Path]
			if ok && !copy && transaction.LinksObject(m.Snapshot.Package, f.Path) {
				// Linked by the transaction straight from the object.
				if objects == nil {
					objects = map[string]string{}
				}
				objects[f.Path] = a.objectPath(key)
				hints[f.Path] = key
				continue
			}
			dst := rs.Path(f.SHA256)
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			src := a.blobPath(f.SHA256)
			if ok {
				src = a.objectPath(key)
			}
			if err := a.intoRootStore(src, dst, made, &f, copy); err != nil {
				return nil, 0, added, err
			}
			added = append(added, dst)
		}
		for _, sum := range m.Snapshot.Info {
			if err := a.intoRootStore(a.blobPath(sum), rs.Path(sum), made, nil, copy); err != nil {
				return nil, 0, added, err
			}
		}
		m.Snapshot.Package.Auto = it.Auto
		plan.Install[i] = transaction.Install{Snapshot: &m.Snapshot, Objects: objects, Auto: it.Auto}
		n++
	}
	return hints, n, added, nil
}

// usable reports whether the store holds every content m needs, each
// shared one an object of the file's size: an object written to outside
// grey since (invariant 8) is not the package's file, and the package is
// then unpacked from its .deb, whose files share keeps private where an
// object differs. An object rewritten at the same size is found by
// "grey app verify", as at "grey app run": composing does not hash what
// it links, as unpacking does not hash the objects it links to.
// inodes receives each object's inode, by key.
func (a *Apps) usable(m *manifest, inodes map[string]uint64) bool { return a.holds(m, true, inodes) }

// complete reports whether the store holds every content m needs.
func (a *Apps) complete(m *manifest) bool { return a.holds(m, false, nil) }

func (a *Apps) holds(m *manifest, sizes bool, inodes map[string]uint64) bool {
	for _, f := range m.Snapshot.Package.Files {
		if f.Type != pkgdb.TypeRegular {
			continue
		}
		p := a.blobPath(f.SHA256)
		key, shared := m.Objects[f.Path]
		if shared {
			if !strings.HasPrefix(key, f.SHA256+"-") {
				return false
			}
			p = a.objectPath(key)
		}
		fi, err := os.Lstat(p)
		if err != nil || (sizes && shared && (!fi.Mode().IsRegular() || fi.Size() != f.Size)) {
			return false
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && shared && inodes != nil {
			inodes[key] = st.Ino
		}
	}
	for _, sum := range m.Snapshot.Info {
		if _, err := os.Lstat(a.blobPath(sum)); err != nil {
			return false
		}
	}
	return true
}

// storeMkdir makes the directories of a root's content store entry p
// (the store's own mode, 0700); made remembers those that exist.
func storeMkdir(p string, made map[string]bool) error {
	d := filepath.Dir(p)
	if made[d] {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(d), 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	made[d] = true
	return nil
}

// intoRootStore puts the store's file src (an object or a blob) into the
// new root's content store as dst. Without copy it is a hard link: the
// transaction only reads an info file, and restores every other content
// it finds there as a copy, because the link has other names (Restore
// links only a content with one name); the root's store is never
// written in place (linkStoreToBlobs). With copy (maintainer scripts
// will run, chrooted in the root, where they can reach its content
// store), it is a copy with f's mode and owner (copyInto).
func (a *Apps) intoRootStore(src, dst string, made map[string]bool, f *pkgdb.File, copy bool) error {
	if copy {
		return copyInto(src, dst, made, f)
	}
	if err := storeMkdir(dst, made); err != nil {
		return err
	}
	err := os.Link(src, dst)
	switch {
	case err == nil, errors.Is(err, os.ErrExist):
		return nil
	case errors.Is(err, syscall.EXDEV), errors.Is(err, syscall.EMLINK):
		return copyInto(src, dst, made, f)
	}
	return err
}

// copyInto copies src to dst (a new inode: private to the root) unless
// dst exists, with src's modification time. With f, the copy has f's mode
// and (as root) owner, so that the transaction's Restore takes it into the
// root as it is, by a link (it has no other name), rather than copying it
// again; and a script sees the file as an unpacked one: a .py file with
// its package's mtime, which py3compile writes into the .pyc's header
// (with the copy's own mtime, the .pyc of every warm root would differ
// from the cold root's and be stale at run time).
func copyInto(src, dst string, made map[string]bool, f *pkgdb.File) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	if err := storeMkdir(dst, made); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	si, err := in.Stat()
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// File to file: copy_file_range, no copy through this process.
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	mode := uint32(0o644)
	if f != nil {
		mode = f.Mode & 0o7777
		if os.Geteuid() == 0 {
			if err := os.Lchown(tmp, f.Uid, f.Gid); err != nil {
				return err
			}
		}
	}
	// After the chown, which clears setuid and setgid; not the umask's.
	if err := syscall.Chmod(tmp, mode); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, si.ModTime(), si.ModTime()); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// saveManifests writes the manifest of each package of plan installed
// from a .deb into the root at dir, unless the store has it. keys are the
// store objects share linked the root's files to. A package whose files
// are not all as its record says (a maintainer script changed one, or a
// diversion moved it) gets none.
func (a *Apps) saveManifests(dir string, plan transaction.Plan, wanted []transaction.Wanted, keys map[string]string) error {
	db, err := pkgdb.Open(dir, pkgdb.Options{})
	if err != nil {
		return err
	}
	var recs []*pkgdb.Package
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		recs, err = pkgdb.Packages(tx)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	bySum := map[string]*pkgdb.Package{}
	for i, it := range plan.Install {
		if it.Snapshot != nil || it.Path == "" || i >= len(wanted) {
			continue
		}
		sum, err := debSum(it)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(a.manifestPath(sum)); err == nil {
			continue
		}
		name, version := wanted[i].Package.Name, wanted[i].Package.Version.String()
		for _, r := range recs {
			if r.Name == name && r.Version == version && r.IsInstalled() {
				bySum[sum] = r
			}
		}
	}
	canon, err := newCanonical(dir)
	if err != nil {
		return err
	}
	defer canon.Close()
	for sum, rec := range bySum {
		m, err := a.makeManifest(dir, rec, keys, canon)
		if err != nil {
			return err
		}
		if m == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(a.manifestPath(sum)), 0o755); err != nil {
			return err
		}
		if err := writeJSON(a.manifestPath(sum), m); err != nil {
			return err
		}
	}
	return nil
}

// makeManifest builds rec's manifest, storing its private and info
// contents as blobs; nil when a file is not as rec says.
func (a *Apps) makeManifest(dir string, rec *pkgdb.Package, keys map[string]string, canon *canonical) (*manifest, error) {
	m := &manifest{Snapshot: pkgdb.Snapshot{Package: rec, Info: map[string]string{}}, Objects: map[string]string{}}
	for _, f := range rec.Files {
		if f.Type != pkgdb.TypeRegular {
			continue
		}
		key, ok := keys[f.Path]
		if !ok {
			// Under a directory link (/lib -> usr/lib of a merged
			// /usr): share found the file by its other name.
			key, ok = keys[canon.path(f.Path)]
		}
		if ok {
			if !strings.HasPrefix(key, f.SHA256+"-") {
				return nil, nil
			}
			m.Objects[f.Path] = key
			continue
		}
		ok, err := a.addBlob(filepath.Join(dir, filepath.FromSlash(f.Path)), f.SHA256)
		if err != nil || !ok {
			return nil, err
		}
	}
	infoDir := filepath.Join(dir, filepath.FromSlash(pkgdb.DpkgAdminDir), "info")
	ents, err := os.ReadDir(infoDir)
	if err != nil {
		return nil, err
	}
	prefix := rec.InfoName() + "."
	for _, e := range ents {
		ext, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || strings.Contains(ext, ".") || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(infoDir, e.Name())
		sum, err := fileSum(p)
		if err != nil {
			return nil, err
		}
		if _, err := a.addBlob(p, sum); err != nil {
			return nil, err
		}
		m.Snapshot.Info[ext] = sum
	}
	return m, nil
}

// addBlob stores a read-only copy of p as blob sum, after checking that
// p's content is sum; false when it is not.
func (a *Apps) addBlob(p, sum string) (bool, error) {
	dst := a.blobPath(sum)
	if _, err := os.Lstat(dst); err == nil {
		return true, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false, nil
	}
	h := sha256.Sum256(b)
	if hex.EncodeToString(h[:]) != sum {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o444); err != nil {
		return false, err
	}
	// The file's modification time, which a copy made from the blob
	// gets (copyInto).
	if fi, err := os.Stat(p); err == nil {
		if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
			return false, err
		}
	}
	return true, os.Rename(tmp, dst)
}

// linkStoreToBlobs replaces each content of the root's own content store
// (ROOT/var/lib/grey/store: the info files its history entry snapshots,
// the same in every root that installed the package) that the apps'
// store has as a blob by a hard link to the blob, after checking that
// its content is its name. It runs after the maintainer scripts (nothing
// of the root runs later but the app itself, whose /var is a private
// copy), and saves one copy of every package's info files per root (6 MB
// for 120 packages). The transaction never writes a stored content in
// place (a restore that links needs a link count of one, else copies),
// so the blob is only ever read through the link.
func (a *Apps) linkStoreToBlobs(dir string) error {
	store := filepath.Join(dir, "var", "lib", "grey", "store")
	fans, err := os.ReadDir(store)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		d := filepath.Join(store, fan.Name())
		ents, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			// transaction.Store.Path: AB/CDEF... for content ABCDEF...
			sum := fan.Name() + e.Name()
			if len(sum) != 64 || !e.Type().IsRegular() {
				continue
			}
			p, blob := filepath.Join(d, e.Name()), a.blobPath(sum)
			bi, err := os.Lstat(blob)
			if err != nil {
				continue
			}
			pi, err := os.Lstat(p)
			if err != nil || os.SameFile(pi, bi) {
				continue
			}
			if got, err := fileSum(p); err != nil || got != sum {
				continue // not what its name says: leave it to the root's own checks
			}
			tmp := p + ".blob"
			os.Remove(tmp)
			if err := os.Link(blob, tmp); err != nil {
				if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EMLINK) {
					return nil
				}
				return err
			}
			if err := os.Rename(tmp, p); err != nil {
				os.Remove(tmp)
				return err
			}
		}
	}
	return nil
}

// pruneManifests deletes the manifests whose contents the store no longer
// has complete, then the blobs no manifest names.
func (a *Apps) pruneManifests() error {
	dir := filepath.Join(a.Dir, ".store", "manifests")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m manifest
		if json.Unmarshal(b, &m) != nil || m.Snapshot.Package == nil || !a.complete(&m) {
			if err := os.Remove(p); err != nil {
				return err
			}
			continue
		}
		for _, f := range m.Snapshot.Package.Files {
			if _, shared := m.Objects[f.Path]; f.Type == pkgdb.TypeRegular && !shared {
				used[f.SHA256] = true
			}
		}
		for _, s := range m.Snapshot.Info {
			used[s] = true
		}
	}
	blobs := filepath.Join(a.Dir, ".store", "blobs")
	fans, _ := os.ReadDir(blobs)
	for _, fan := range fans {
		d := filepath.Join(blobs, fan.Name())
		bs, _ := os.ReadDir(d)
		for _, b := range bs {
			if !used[b.Name()] {
				if err := os.Remove(filepath.Join(d, b.Name())); err != nil {
					return fmt.Errorf("prune %s: %w", d, err)
				}
			}
		}
		os.Remove(d) // when empty
	}
	return nil
}
