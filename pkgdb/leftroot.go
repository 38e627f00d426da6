package pkgdb

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The leftroot bucket remembers the files of packages adopted from dpkg
// as they were on disk when a transaction took them out of the root. An
// adopted record carries a file's type and MD5 but no mode, owner, size
// or SHA256 (dpkg keeps none), so without it a rollback to before that
// transaction could neither find the content (the store is by SHA256) nor
// give it its mode and owner back. Key "PATH\x00MD5" for a regular file
// (its content checked to have that MD5), "PATH\x00dir" for a directory,
// "PATH\x00symlink\x00TARGET" for a symlink; value the JSON File as found
// (its content in the content store). Written in the database write of
// the transaction that removed or replaced the file.
var bucketLeftRoot = []byte("leftroot")

// leftRootKey is the key of an adopted record's file.
func leftRootKey(f File) []byte {
	switch f.Type {
	case TypeDir:
		return []byte(f.Path + "\x00dir")
	case TypeSymlink:
		return []byte(f.Path + "\x00symlink\x00" + f.Link)
	}
	return []byte(f.Path + "\x00" + f.MD5)
}

// PutLeftRoot records disk as what the adopted record's file rec was on
// disk when it left the root.
func PutLeftRoot(tx *bolt.Tx, rec, disk File) error {
	b, err := tx.CreateBucketIfNotExists(bucketLeftRoot)
	if err != nil {
		return fmt.Errorf("pkgdb: leftroot bucket: %w", err)
	}
	disk.Path = rec.Path
	disk.MD5 = rec.MD5
	v, err := json.Marshal(disk)
	if err != nil {
		return fmt.Errorf("pkgdb: encode %s: %w", rec.Path, err)
	}
	return b.Put(leftRootKey(rec), v)
}

// LeftRoot returns what the adopted record's file rec was on disk when it
// last left the root, and false when no transaction took it out.
func LeftRoot(tx *bolt.Tx, rec File) (File, bool) {
	b := tx.Bucket(bucketLeftRoot)
	if b == nil {
		return File{}, false
	}
	v := b.Get(leftRootKey(rec))
	if v == nil {
		return File{}, false
	}
	var f File
	if json.Unmarshal(v, &f) != nil || f.Type != rec.Type {
		return File{}, false
	}
	return f, true
}

// WithLeftRoot returns a copy of an adopted record in which each file
// that left the root carries what it was on disk then (mode, owner, size,
// SHA256); a record grey made itself is returned as it is.
func WithLeftRoot(tx *bolt.Tx, p *Package) *Package {
	if !p.Adopted {
		return p
	}
	cp := *p
	cp.Files = make([]File, len(p.Files))
	for i, f := range p.Files {
		if d, ok := LeftRoot(tx, f); ok {
			f = d
		}
		cp.Files[i] = f
	}
	return &cp
}
