package mirror

import (
	"github.com/greypm/grey/repo/storage"
)

// Storage is where a mirror's served tree is written: storage.Storage, the
// interface every writer of a published tree uses (a local directory, an
// S3-compatible bucket). A sync writes in the order pool, by-hash,
// indexes, Release, InRelease, and relies on Put being atomic per object.
type Storage = storage.Storage

// Dir is a Storage on a local directory: the mirror directory itself.
type Dir = storage.Dir

// fileHas reports whether the local file p holds size bytes with SHA256
// sum; a missing file is false, not an error.
func fileHas(p string, size int64, sum string) (bool, error) {
	return storage.FileHas(p, storage.Sum{Size: size, SHA256: sum})
}
