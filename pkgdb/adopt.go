package pkgdb

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// Meta keys that remember dpkg's and apt's files as grey last wrote or read
// them (SHA256 of the content), so a change made by dpkg or apt is noticed.
const (
	keyDpkgStatus     = "dpkg-status-sha256"
	keyExtendedStates = "apt-extended-states-sha256"
)

// HostFingerprint is what grey last saw of dpkg's status and apt's
// extended_states: SHA256s of their contents ("" for a missing file).
type HostFingerprint struct {
	Status, ExtendedStates string
	// Known is false when grey never looked (a database that never adopted).
	Known bool
}

// Fingerprint of bytes as the meta bucket stores it.
func Fingerprint(data []byte) string {
	if data == nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// GetHostFingerprint reads the fingerprint.
func GetHostFingerprint(tx *bolt.Tx) HostFingerprint {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		return HostFingerprint{}
	}
	s, es := meta.Get([]byte(keyDpkgStatus)), meta.Get([]byte(keyExtendedStates))
	return HostFingerprint{Status: string(s), ExtendedStates: string(es), Known: s != nil}
}

// PutHostFingerprint records the fingerprint.
func PutHostFingerprint(tx *bolt.Tx, f HostFingerprint) error {
	meta, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
	if err != nil {
		return fmt.Errorf("pkgdb: meta bucket: %w", err)
	}
	if err := meta.Put([]byte(keyDpkgStatus), []byte(f.Status)); err != nil {
		return err
	}
	return meta.Put([]byte(keyExtendedStates), []byte(f.ExtendedStates))
}

// StanzaHash is the SHA256 of one raw status stanza.
func StanzaHash(raw []byte) string { return Fingerprint(raw) }

// DpkgRoot is a root opened for reading dpkg's database and the files it
// names, as adoption does: the root and dpkg's info directory, each an
// os.Root, so that every read stays inside the root whatever links a
// writer in it makes (inroot.go). Its methods are safe for concurrent
// use.
type DpkgRoot struct {
	root *os.Root
	// info is dpkg's info directory; nil when the root has none.
	info *os.Root
}

// OpenDpkgRoot opens the root at root for reading dpkg's database. A
// var/lib/dpkg or var/lib/dpkg/info that leads out of the root is an
// error naming it (rootfs.ErrOutside).
func OpenDpkgRoot(root string) (*DpkgRoot, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, fmt.Errorf("dpkg database: %w", err)
	}
	d := &DpkgRoot{root: r}
	name, err := rootfs.StateDirName(r, DpkgAdminDir+"/info")
	if err == nil {
		d.info, err = r.OpenRoot(name)
		if errors.Is(err, fs.ErrNotExist) {
			d.info, err = nil, nil
		} else if err != nil {
			err = rootfs.Explain(r, "open", name, err)
		}
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("dpkg database: %w", err)
	}
	return d, nil
}

// Close closes the root.
func (d *DpkgRoot) Close() error {
	if d.info != nil {
		d.info.Close()
	}
	return d.root.Close()
}

// ReadFile reads the file name (relative to the root) of grey's, dpkg's
// or apt's state (dpkg's status, apt's extended_states); nil, and no
// error, when it does not exist. A component leading out of the root is
// an error naming it.
func (d *DpkgRoot) ReadFile(name string) ([]byte, error) {
	rel, err := stateName(d.root, name)
	if err != nil {
		return nil, err
	}
	b, err := d.root.ReadFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		if out := rootfs.Outside(d.root, rel); out != nil {
			return nil, fmt.Errorf("read %s: %w", rootfs.Host(d.root, rel), out)
		}
		return nil, nil
	}
	if err != nil {
		return nil, rootfs.Explain(d.root, "read", rel, err)
	}
	return b, nil
}

// ReadAdminFile reads the file name of dpkg's database ("status") as
// ReadFile does.
func (d *DpkgRoot) ReadAdminFile(name string) ([]byte, error) {
	return d.ReadFile(path.Join(DpkgAdminDir, name))
}

// IsDir reports whether name (relative to the root) is a directory,
// looked up as ReadFile does; false when it leads out of the root.
func (d *DpkgRoot) IsDir(name string) bool {
	rel, err := rootfs.StateDirName(d.root, name)
	if err != nil {
		return false
	}
	fi, err := d.root.Stat(rel)
	return err == nil && fi.IsDir()
}

// FromDpkg builds a package record from its dpkg status entry and its info
// files, touching nothing: the control fields are the stanza's without
// Status, Conffiles and Config-Version; the files come from
// info/NAME.list, their types from the list itself (a path with paths
// under it is a directory), md5sums and conffiles, and lstat for the
// rest; a conffile unchanged since it was shipped gets its SHA256.
// instance is the record's key when not the name (a foreign-architecture
// instance). The root's files (conffiles, the lstat) are looked up inside
// the root, their links followed as in a chroot (rootfs).
func (d *DpkgRoot) FromDpkg(e *dpkgdb.Entry, auto bool, instance string) (*Package, error) {
	st := e.Fields
	ctl := &control.Stanza{}
	for _, f := range st.Fields {
		switch strings.ToLower(f.Name) {
		case "status", "conffiles", "config-version":
			continue
		}
		ctl.Fields = append(ctl.Fields, f)
	}
	ctlBytes, err := control.AppendStanza(nil, ctl)
	if err != nil {
		return nil, fmt.Errorf("dpkg status of %s: %w", e.Package, err)
	}
	p := &Package{
		Name: e.Package, Architecture: e.Arch, Version: st.Get("Version"), MultiArch: e.MultiArch,
		Essential: strings.EqualFold(st.Get("Essential"), "yes"), Status: e.Status, Auto: auto,
		Control: string(ctlBytes), Instance: instance, Adopted: true, StanzaHash: StanzaHash(e.Raw),
	}
	confs, err := dpkgdb.ParseConffiles(st.Get("Conffiles"))
	if err != nil {
		return nil, fmt.Errorf("dpkg status of %s: %w", e.Package, err)
	}
	isConf := map[string]bool{}
	for _, c := range confs {
		if c.Obsolete {
			continue
		}
		isConf[c.Path] = true
		pc := Conffile{Path: c.Path, MD5: c.MD5}
		if sum, md, err := hashFile(d.root, c.Path); err == nil && md == c.MD5 {
			pc.SHA256 = sum
		}
		p.Conffiles = append(p.Conffiles, pc)
	}
	info := e.InfoName()
	paths, err := dpkgdb.ReadList(d.info, info)
	if err != nil {
		return nil, fmt.Errorf("dpkg database of %s: %w", e.Package, err)
	}
	md5s, err := dpkgdb.ReadMD5Sums(d.info, info)
	if err != nil {
		return nil, fmt.Errorf("dpkg database of %s: %w", e.Package, err)
	}
	// A path that is the parent of another is a directory.
	parents := make(map[string]bool, len(paths)/4)
	for _, path := range paths {
		if i := strings.LastIndexByte(path, '/'); i > 0 {
			parents[path[:i]] = true
		}
	}
	p.Files = make([]File, 0, len(paths))
	for _, path := range paths {
		f := File{Path: path}
		switch {
		case md5s[path] != "":
			f.Type, f.MD5 = TypeRegular, md5s[path]
		case isConf[path]:
			f.Type = TypeRegular
		case parents[path]:
			f.Type = TypeDir
		default:
			f.Type, f.Link = lstatType(d.root, path)
		}
		p.Files = append(p.Files, f)
	}
	return p, nil
}

// lstatType looks at a path whose type the lists do not tell: a leaf
// directory, a symlink, a file with no md5sum. One that is missing
// counts as a regular file. The path's directories are looked up inside
// the root r: by os.Root first (its links within the root followed), and
// when that fails (an absolute link on the way) as in a chroot.
func lstatType(r *os.Root, p string) (FileType, string) {
	rel := strings.TrimPrefix(p, "/")
	fi, err := r.Lstat(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if rel, err = rootfs.Resolve(r, p, false); err == nil {
			fi, err = r.Lstat(rel)
		}
	}
	if err != nil {
		return TypeRegular, ""
	}
	switch {
	case fi.IsDir():
		return TypeDir, ""
	case fi.Mode()&fs.ModeSymlink != 0:
		l, _ := r.Readlink(rel)
		return TypeSymlink, l
	case fi.Mode()&fs.ModeCharDevice != 0:
		return TypeChar, ""
	case fi.Mode()&fs.ModeDevice != 0:
		return TypeBlock, ""
	case fi.Mode()&fs.ModeNamedPipe != 0:
		return TypeFifo, ""
	}
	return TypeRegular, ""
}

// hashFile hashes the file p of the root r, its links followed inside
// the root as in a chroot.
func hashFile(r *os.Root, p string) (sha, md string, err error) {
	f, err := rootfs.Open(r, p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	h1, h2 := sha256.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(h1, h2), f); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h2.Sum(nil)), nil
}
