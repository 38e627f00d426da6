package pkgdb

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The paths bucket maps every installed path to the names of the packages
// that own it, NUL-separated and sorted. Regular files have one owner;
// directories are shared, and the owner count is the reference count that
// decides whether removing a package may delete the directory.

func readOwners(b *bolt.Bucket, path string) []string {
	v := b.Get([]byte(path))
	if len(v) == 0 {
		return nil
	}
	return strings.Split(string(v), "\x00")
}

func writeOwners(b *bolt.Bucket, path string, owners []string) error {
	if len(owners) == 0 {
		return b.Delete([]byte(path))
	}
	if len(owners) == 1 {
		return b.Put([]byte(path), []byte(owners[0]))
	}
	sort.Strings(owners)
	return b.Put([]byte(path), []byte(strings.Join(owners, "\x00")))
}

func addOwner(tx *bolt.Tx, path, pkg string) error {
	b := tx.Bucket(bucketPaths)
	owners := readOwners(b, path)
	for _, o := range owners {
		if o == pkg {
			return nil
		}
	}
	if err := writeOwners(b, path, append(owners, pkg)); err != nil {
		return fmt.Errorf("pkgdb: record owner of %s: %w", path, err)
	}
	return nil
}

func removeOwner(tx *bolt.Tx, path, pkg string) error {
	b := tx.Bucket(bucketPaths)
	if b == nil {
		return nil
	}
	owners := readOwners(b, path)
	out := owners[:0]
	for _, o := range owners {
		if o != pkg {
			out = append(out, o)
		}
	}
	if err := writeOwners(b, path, out); err != nil {
		return fmt.Errorf("pkgdb: drop owner of %s: %w", path, err)
	}
	return nil
}

// Owners returns the packages that own path (absolute, "/usr/bin/hello"),
// sorted; none when no installed package has it.
func Owners(tx *bolt.Tx, path string) []string {
	b := tx.Bucket(bucketPaths)
	if b == nil {
		return nil
	}
	return readOwners(b, path)
}
