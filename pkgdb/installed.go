package pkgdb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/internal/parallel"
)

// Bucket names used for the installed set (schema version 2):
//
//	packages  name → JSON Package (control stanza, status, mark, files, conffiles)
//	dirs      directory → the packages owning each path in it (schema
//	          version 4; see files.go)
var (
	bucketPackages = []byte("packages")
	bucketDirs     = []byte("dirs")
)

// Status values, written exactly as dpkg writes its Status field.
const (
	// StatusInstalled is a package that is unpacked and configured.
	StatusInstalled = "install ok installed"
	// StatusConfigFiles is a removed (not purged) package of which only
	// the conffiles remain; dpkg -l shows it as "rc".
	StatusConfigFiles = "deinstall ok config-files"
	// StatusUnpacked is a package whose files are in place and whose
	// postinst has not run (dpkg -l: "iU").
	StatusUnpacked = "install ok unpacked"
	// StatusHalfConfigured is a package whose postinst configure failed
	// (dpkg -l: "iF").
	StatusHalfConfigured = "install ok half-configured"
	// StatusHalfInstalled is a package whose installation failed half-way
	// and must be reinstalled (dpkg -l: "iHR").
	StatusHalfInstalled = "install reinstreq half-installed"
	// StatusNotInstalled is what dpkg keeps of a package selected for
	// installation whose installation was undone (dpkg -l: "in").
	StatusNotInstalled = "install ok not-installed"
)

// The third word of a Status field: the package's state.
const (
	StateNotInstalled    = "not-installed"
	StateConfigFiles     = "config-files"
	StateHalfInstalled   = "half-installed"
	StateUnpacked        = "unpacked"
	StateHalfConfigured  = "half-configured"
	StateTriggersAwaited = "triggers-awaited"
	StateTriggersPending = "triggers-pending"
	StateInstalled       = "installed"
)

// SetStatus sets p's Status from its parts: want ("install", "deinstall",
// "purge"), the reinstallation-required flag and the state.
func (p *Package) SetStatus(want string, reinstreq bool, state string) {
	flag := "ok"
	if reinstreq {
		flag = "reinstreq"
	}
	p.Status = want + " " + flag + " " + state
}

// Configured reports whether p's postinst configure has run: installed,
// or configured with triggers still to process.
func (p *Package) Configured() bool {
	switch p.State() {
	case StateTriggersAwaited, StateTriggersPending, StateInstalled:
		return true
	}
	return false
}

// Pending reports whether p is unpacked or half-configured and selected
// for installation: what "dpkg --configure --pending" configures.
func (p *Package) Pending() bool {
	if w := p.Want(); w != "install" && w != "hold" {
		return false
	}
	switch p.State() {
	case StateUnpacked, StateHalfConfigured:
		return true
	}
	return false
}

// FileType is the kind of an installed path.
type FileType string

// The kinds of installed paths. Device nodes and fifos are recorded when an
// installation allowed them.
const (
	TypeRegular FileType = "file"
	TypeDir     FileType = "dir"
	TypeSymlink FileType = "symlink"
	TypeHard    FileType = "hardlink"
	TypeChar    FileType = "char"
	TypeBlock   FileType = "block"
	TypeFifo    FileType = "fifo"
)

// File is one path a package installed, as it was written.
type File struct {
	// Path is absolute inside the root, as dpkg's .list writes it:
	// "/usr/bin/hello".
	Path string   `json:"path"`
	Type FileType `json:"type"`
	// Mode holds the permission bits plus setuid/setgid/sticky as the
	// Unix mode word (e.g. 0o4755).
	Mode uint32 `json:"mode"`
	Uid  int    `json:"uid,omitempty"`
	Gid  int    `json:"gid,omitempty"`
	Size int64  `json:"size,omitempty"`
	// SHA256 is the lowercase hex digest of a regular file's content.
	SHA256 string `json:"sha256,omitempty"`
	// Link is a symlink's target or, for a hard link, the path it shares
	// its inode with.
	Link string `json:"link,omitempty"`
	// MD5 is the lowercase hex MD5 dpkg's md5sums gives for a regular
	// file of a package adopted from dpkg (which records no SHA256).
	MD5 string `json:"md5,omitempty"`
}

// Conffile is a configuration file as the package shipped it: the hash of
// that original content is what tells a local edit from a package update.
type Conffile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// MD5 is written to dpkg's Conffiles field, which uses MD5.
	MD5 string `json:"md5"`
}

// Package is one installed package: its control stanza, its state and
// everything it put in the root.
type Package struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	Version      string `json:"version"`
	// MultiArch is the Multi-Arch field ("same" changes dpkg's file names).
	MultiArch string `json:"multi_arch,omitempty"`
	Essential bool   `json:"essential,omitempty"`
	// Status is dpkg's Status field, "want flag state": StatusInstalled,
	// StatusConfigFiles, or any other state dpkg writes ("hold ok
	// installed", "install reinstreq half-installed", ...).
	Status string `json:"status"`
	// ConfigVersion is the version last configured, while the package is
	// not (dpkg's Config-Version field): kept through an upgrade that
	// is unpacked but not configured yet, passed to "postinst configure".
	ConfigVersion string `json:"config_version,omitempty"`
	// Auto marks a package installed only to satisfy dependencies; such a
	// package is removed by autoremove once nothing needs it.
	Auto bool `json:"auto,omitempty"`
	// Control is the package's control file as shipped (no Status field).
	Control   string     `json:"control"`
	Files     []File     `json:"files"`
	Conffiles []Conffile `json:"conffiles,omitempty"`
	// Instance, when set, is the record's key: "name:arch" for an
	// instance of a foreign architecture beside the native one (Multi-Arch).
	// Empty means the key is Name.
	Instance string `json:"instance,omitempty"`
	// Adopted says the record was imported from dpkg's database: its files
	// carry type and MD5 but no mode, owner, size or SHA256.
	Adopted bool `json:"adopted,omitempty"`
	// StanzaHash is the SHA256 of the package's stanza in dpkg's status
	// file as grey last wrote or read it: a different stanza there means
	// dpkg (or apt) changed the package.
	StanzaHash string `json:"stanza_hash,omitempty"`
}

// Key is the record's key in the database: Instance, else Name.
func (p *Package) Key() string {
	if p.Instance != "" {
		return p.Instance
	}
	return p.Name
}

// Want is the first word of Status: install, hold, deinstall, purge.
func (p *Package) Want() string { return statusWord(p.Status, 0) }

// State is the last word of Status: installed, config-files, unpacked,
// half-configured, half-installed, triggers-awaited, triggers-pending.
func (p *Package) State() string { return statusWord(p.Status, 2) }

// IsInstalled says the package's files are in the root: any state but
// config-files and not-installed (dpkg and apt count an unpacked or
// half-configured package as installed, needing configuration).
func (p *Package) IsInstalled() bool {
	switch p.State() {
	case "", "config-files", "not-installed":
		return false
	}
	return true
}

// IsConfigFiles says only the package's conffiles remain ("rc").
func (p *Package) IsConfigFiles() bool { return p.State() == "config-files" }

// Held says dpkg's selection for the package is hold.
func (p *Package) Held() bool { return p.Want() == "hold" }

// WithWant returns Status with its first word replaced.
func (p *Package) WithWant(want string) string {
	f := strings.Fields(p.Status)
	if len(f) != 3 {
		return p.Status
	}
	f[0] = want
	return strings.Join(f, " ")
}

func statusWord(s string, i int) string {
	f := strings.Fields(s)
	if len(f) != 3 {
		return ""
	}
	return f[i]
}

// InfoName is the base name dpkg uses for the package's files under
// var/lib/dpkg/info: "name", or "name:arch" for Multi-Arch: same.
func (p *Package) InfoName() string {
	if p.MultiArch == "same" {
		return p.Name + ":" + p.Architecture
	}
	return p.Name
}

// Conffile returns the conffile record for path, or nil.
func (p *Package) Conffile(path string) *Conffile {
	for i := range p.Conffiles {
		if p.Conffiles[i].Path == path {
			return &p.Conffiles[i]
		}
	}
	return nil
}

// EnsureInstalledBuckets creates the buckets of the installed set.
func EnsureInstalledBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketPackages, bucketDirs} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("pkgdb: create bucket %s: %w", b, err)
		}
	}
	return nil
}

// GetPackage returns the installed record of name, or nil when there is none.
func GetPackage(tx *bolt.Tx, name string) (*Package, error) {
	b := tx.Bucket(bucketPackages)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil, nil
	}
	var p Package
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, fmt.Errorf("pkgdb: decode package %s: %w", name, err)
	}
	return &p, nil
}

// Packages returns every package record, sorted by name.
func Packages(tx *bolt.Tx) ([]*Package, error) {
	b := tx.Bucket(bucketPackages)
	if b == nil {
		return nil, nil
	}
	var out []*Package
	err := b.ForEach(func(k, v []byte) error {
		var p Package
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("pkgdb: decode package %s: %w", k, err)
		}
		out = append(out, &p)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, err
}

// PutPackage stores p, replacing any earlier record of the same name, and
// moves path ownership: paths of the old record that p no longer has lose
// p as an owner, p's paths gain it.
func PutPackage(tx *bolt.Tx, p *Package) error {
	if err := EnsureInstalledBuckets(tx); err != nil {
		return err
	}
	key := p.Key()
	old, err := GetPackage(tx, key)
	if err != nil {
		return err
	}
	var c ownerChanges
	ownerDelta(&c, key, old, p)
	if err := c.apply(tx); err != nil {
		return err
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("pkgdb: encode package %s: %w", p.Name, err)
	}
	return tx.Bucket(bucketPackages).Put([]byte(key), v)
}

// DeletePackage removes name's record and its ownership of every path.
func DeletePackage(tx *bolt.Tx, name string) error {
	old, err := GetPackage(tx, name)
	if err != nil || old == nil {
		return err
	}
	var c ownerChanges
	ownerDelta(&c, name, old, nil)
	if err := c.apply(tx); err != nil {
		return err
	}
	return tx.Bucket(bucketPackages).Delete([]byte(name))
}

// View runs fn in a read-only transaction of the database.
func (db *DB) View(fn func(*bolt.Tx) error) error { return db.bolt.View(fn) }

// Update runs fn in one read-write transaction: everything fn writes is
// committed together or not at all.
func (db *DB) Update(fn func(*bolt.Tx) error) error { return db.bolt.Update(fn) }

// SetAuto sets the automatic-installation mark of an installed package.
func SetAuto(tx *bolt.Tx, name string, auto bool) error {
	p, err := GetPackage(tx, name)
	if err != nil {
		return err
	}
	if p == nil || !p.IsInstalled() {
		return fmt.Errorf("%s is not installed", name)
	}
	p.Auto = auto
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("pkgdb: encode package %s: %w", name, err)
	}
	return tx.Bucket(bucketPackages).Put([]byte(name), v)
}

// PutPackages stores many records at once, as PutPackage does one by
// one, but reads and writes each directory of the path index once:
// adopting a dpkg database puts /usr, /usr/share and /usr/share/doc in
// every package.
func PutPackages(tx *bolt.Tx, pkgs []*Package) error {
	enc, err := EncodePackages(pkgs)
	if err != nil {
		return err
	}
	return PutEncodedPackages(tx, pkgs, enc)
}

// snapshotPrefix opens a snapshot's JSON, before its record's.
const snapshotPrefix = `{"package":`

// Encoded is a record's stored form (its JSON), with room before it for
// the snapshot that embeds it: one encoding serves the record and its
// snapshot, without a copy.
type Encoded struct {
	buf []byte // snapshotPrefix, the record's JSON
}

// Record is the record's stored form.
func (e Encoded) Record() []byte { return e.buf[len(snapshotPrefix):] }

// EncodePackages returns the stored form of each record, encoded on every
// CPU, for PutEncodedPackages and PutSnapshotEncoded.
func EncodePackages(pkgs []*Package) ([]Encoded, error) {
	enc := make([]Encoded, len(pkgs))
	err := parallel.Each(len(pkgs), func(i int) (err error) {
		enc[i], err = encodePackage(pkgs[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return enc, nil
}

// encodePackage is json.Marshal(p) after snapshotPrefix (an Encoder
// writes what Marshal returns, and a newline).
func encodePackage(p *Package) (Encoded, error) {
	var b bytes.Buffer
	b.Grow(len(snapshotPrefix) + 256 + len(p.Control) + 110*len(p.Files))
	b.WriteString(snapshotPrefix)
	if err := json.NewEncoder(&b).Encode(p); err != nil {
		return Encoded{}, fmt.Errorf("pkgdb: encode package %s: %w", p.Key(), err)
	}
	buf := b.Bytes()
	return Encoded{buf: buf[:len(buf)-1]}, nil
}

// PutEncodedPackages is PutPackages with the records already encoded by
// EncodePackages (enc[i] is pkgs[i]'s).
func PutEncodedPackages(tx *bolt.Tx, pkgs []*Package, enc []Encoded) error {
	if len(enc) != len(pkgs) {
		return fmt.Errorf("pkgdb: %d records with %d encodings", len(pkgs), len(enc))
	}
	if err := EnsureInstalledBuckets(tx); err != nil {
		return err
	}
	b := tx.Bucket(bucketPackages)
	n := 0
	for _, p := range pkgs {
		n += len(p.Files)
	}
	c := ownerChanges{all: make([]ownerChange, 0, n)}
	for i, p := range pkgs {
		key := p.Key()
		old, err := GetPackage(tx, key)
		if err != nil {
			return err
		}
		ownerDelta(&c, key, old, p)
		if err := b.Put([]byte(key), enc[i].Record()); err != nil {
			return fmt.Errorf("pkgdb: store package %s: %w", key, err)
		}
	}
	return c.apply(tx)
}

// ownerDelta adds to c what replacing record old of key by p (either may
// be nil) changes in the path index: p's paths gain key as an owner,
// old's paths that p does not have lose it.
func ownerDelta(c *ownerChanges, key string, old, p *Package) {
	if old != nil {
		var keep map[string]bool
		if p != nil {
			keep = make(map[string]bool, len(p.Files))
			for _, f := range p.Files {
				keep[f.Path] = true
			}
		}
		for _, f := range old.Files {
			if !keep[f.Path] {
				c.del(f.Path, key)
			}
		}
	}
	if p != nil {
		for _, f := range p.Files {
			c.add(f.Path, key)
		}
	}
}

// PutStatus stores rec's Status, ConfigVersion and StanzaHash in the
// record of the same key, nothing else (its files' ownership stays as it
// is): a package configured, or left half-way, after its commit.
func PutStatus(tx *bolt.Tx, rec *Package) error {
	p, err := GetPackage(tx, rec.Key())
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("pkgdb: set status of %s: no such package", rec.Key())
	}
	p.Status, p.ConfigVersion, p.StanzaHash = rec.Status, rec.ConfigVersion, rec.StanzaHash
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("pkgdb: encode package %s: %w", rec.Key(), err)
	}
	return tx.Bucket(bucketPackages).Put([]byte(rec.Key()), v)
}
