package publish

import "github.com/greypm/grey/repo/storage"

// Storage is where a repository is written: storage.Storage, the one
// interface every writer of a published tree uses (a local directory, an
// S3-compatible bucket). Publish never writes outside it, and relies on
// Put being atomic: a reader of a name sees the old content or the new,
// never a mix or a short file.
type Storage = storage.Storage

// Dir is a Storage on a local directory.
type Dir = storage.Dir

// tmpSuffix marks a file being written by Dir.
const tmpSuffix = storage.TmpSuffix

// lockName is the lock file in the repository root.
const lockName = storage.LockName

// ErrLocked reports that another publish is writing the same repository.
var ErrLocked = storage.ErrLocked

// DryRun returns a Storage that reads from st but writes nothing: Publish
// through it checks every input and reports what it would add, remove and
// delete, and leaves the repository as it was.
func DryRun(st Storage) Storage { return storage.DryRun(st) }
