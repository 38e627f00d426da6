package transaction

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/greypm/grey/deb/compress"
	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrUnsafePath: an entry would be written outside the root or through
	// a symlink the transaction ships.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrDevice: a device node or fifo, refused unless Options.AllowDevices.
	ErrDevice = errors.New("device nodes are not allowed")
	// ErrConflict: a path already belongs to another package.
	ErrConflict = errors.New("file conflict")
	// ErrEssential: removing an Essential package without Options.ForceEssential.
	ErrEssential = errors.New("package is essential")
	// ErrChecksum: a package file is not what the index says it is.
	ErrChecksum = errors.New("package file does not match the index")
	// ErrNotInstalled: a removal names a package that is not installed.
	ErrNotInstalled = errors.New("package is not installed")
)

// ConflictError is a path that two packages both ship.
type ConflictError struct {
	Path string
	// Package is the package being installed, Owner the one that has the
	// path (installed, or earlier in the same transaction).
	Package, Owner string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("trying to overwrite %s, which is also in package %s (installing %s)", e.Path, e.Owner, e.Package)
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ScriptError is a maintainer script that failed; Output is what it printed.
type ScriptError struct {
	Package string
	Script  string   // "preinst"
	Args    []string // {"install"}
	Output  string
	Err     error
}

func (e *ScriptError) Error() string {
	out := strings.TrimRight(e.Output, "\n")
	if out != "" {
		out = "; it printed:\n" + out
	}
	// dpkg passes an empty argument where there is no version (postinst
	// configure '' on a first install); the message leaves it out rather
	// than print a double space.
	words := []string{e.Package, e.Script}
	for _, a := range e.Args {
		if a != "" {
			words = append(words, a)
		}
	}
	return fmt.Sprintf("%s failed: %v%s", strings.Join(words, " "), e.Err, out)
}

// Unwrap returns the process error.
func (e *ScriptError) Unwrap() error { return e.Err }

// DB is the root's database; *bbolt.DB satisfies it.
type DB interface {
	View(func(*bolt.Tx) error) error
	Update(func(*bolt.Tx) error) error
}

// Options configures a transaction.
type Options struct {
	// Root is the directory the packages go into; "/" for the host.
	Root string
	// NoScripts skips every maintainer script.
	NoScripts bool
	// AllowDevices lets packages create device nodes and fifos.
	AllowDevices bool
	// ForceEssential allows removing Essential packages.
	ForceEssential bool
	// ConfigurePending also configures the packages earlier runs left
	// unpacked or half-configured, as apt does on its next run.
	ConfigurePending bool
	// Sync makes every staged file durable (writeback started as each is
	// written, then an fsync of each, several at once, or one syncfs of
	// the file system when little else is waiting to be written) before
	// the first rename, and the directories holding the renames before the
	// database commits: the crash-safe mode.
	Sync bool
	// Workers is how many packages are decoded at once; 0 means 2, the
	// number that brings Go's xz decoder level with liblzma.
	Workers int
	// Decoder decodes the packages' data members; nil means
	// compress.SystemDecoder(): the host's xz when installed (liblzma, about
	// twice as fast as the pure-Go decoder), else the pure-Go decoders.
	Decoder *compress.Decoder
	// ScriptOutput receives maintainer scripts' output as they run; nil
	// discards it (it is still kept for a ScriptError).
	ScriptOutput io.Writer
	// Progress, when set, is called as packages are staged and
	// configured, from one goroutine at a time.
	Progress func(Progress)
	// Now is the clock of the history entry; nil means time.Now.
	Now func() time.Time
	// Command and User are recorded in the history entry.
	Command []string
	User    string
	// Fresh says the root is the caller's alone until Apply returns and
	// starts with nothing installed: a per-app root being composed
	// (package apps). With NoScripts, the symlinks and the Install.Objects
	// files of Snapshot installs that go into directories this
	// transaction made are staged at their own names rather than beside
	// them, so that the commit has no rename to do for them; a crash
	// before the commit removes them as it removes staged files. (In a
	// root others use, they would show before the commit.) Apply refuses
	// Fresh with scripts or with packages installed.
	Fresh bool

	// syncMode lets tests force one way of making files durable.
	syncMode syncMode
	// atStep, when set (tests only), is called at each step boundary of
	// the transaction (faults.at), so that a test can change the root
	// between two steps as a writer racing the transaction would.
	atStep func(step string)
}

// syncMode is how Sync makes staged files durable.
type syncMode int

const (
	// syncModeAuto chooses by the system's dirty page cache (useSyncfs).
	syncModeAuto syncMode = iota
	// syncModeFsync fsyncs every file and directory.
	syncModeFsync
	// syncModeSyncfs syncs the root's file system once per step.
	syncModeSyncfs
)

// Progress reports how far a transaction is: Done of Total packages
// through Phase ("unpack" or "configure"), the last one being Package.
type Progress struct {
	Phase       string
	Package     string
	Done, Total int
}

// Install is one package to install, upgrade or reinstall.
type Install struct {
	// Path is the .deb file.
	Path string
	// SHA256 and Size, when set, are what the index says the file is; the
	// file is checked against them before anything is staged, so a cached
	// package changed after its download is refused.
	SHA256 string
	Size   int64
	// Auto marks a newly installed package as installed automatically (a
	// dependency). An installed package keeps its mark unless Auto is false,
	// which makes it manual.
	Auto bool
	// Snapshot, instead of Path, puts a package back as it was at an
	// earlier point in the history: its files and info files come from the
	// content store (rollback.go).
	Snapshot *pkgdb.Snapshot
	// Objects, for a Snapshot install with Options.NoScripts, names for
	// regular files of the snapshot (by their Path) a file outside the
	// root with that file's content: a per-app store's object, which
	// other roots link too (package apps). Each is hard-linked into the
	// root instead of being restored from the root's content store,
	// after its type, size, mode and owner are checked against the
	// record (ObjectError). Its content is not hashed again: the caller
	// vouches for it, as it vouches for a .deb's. Conffiles and files
	// under /etc are never linked (copyInStore), so they must be in the
	// root's store. Apply refuses Objects when scripts run: a script
	// could write into an inode every other root shares.
	Objects map[string]string
}

// Remove is one package to remove.
type Remove struct {
	Name string
	// Purge removes the conffiles too, and a config-files package's record.
	Purge bool
}

// Plan is a set of concrete changes: packages to install from .deb files
// (in dependency order where it matters: postinst scripts run dependencies
// first in any case) and packages to remove.
type Plan struct {
	Install []Install
	Remove  []Remove
}

// ConffileNote tells the user that a locally changed conffile was kept
// and the package's version written beside it.
type ConffileNote struct {
	Package string `json:"package"`
	Path    string `json:"path"`
	NewPath string `json:"new_path"`
}

// Change is what happened to one package.
type Change struct {
	Name       string `json:"name"`
	Arch       string `json:"arch,omitempty"`
	Action     string `json:"action"` // install, upgrade, downgrade, reinstall, remove, purge, configure
	OldVersion string `json:"old_version,omitempty"`
	NewVersion string `json:"new_version,omitempty"`
}

// Result reports a finished transaction.
type Result struct {
	Changes   []Change       `json:"changes"`
	Conffiles []ConffileNote `json:"conffiles,omitempty"`
	// Files and Bytes count what was written.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// HistoryID is the transaction's history entry.
	HistoryID uint64 `json:"history_id,omitempty"`
	// Failures lists the packages a failing maintainer script left short
	// of installed (or removed), with their state (lifecycle.go).
	Failures []Failure `json:"failures,omitempty"`
}
