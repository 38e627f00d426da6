// Package lists reads and writes the verified repository metadata kept in a
// root: one folder per source under Dir, holding the accepted InRelease (or
// Release and Release.gpg), the index files it vouches for, and a manifest,
// state.json, written last by rename. It is apart from package repo, which
// fetches and verifies, so that commands which only read an index (show,
// policy, search) do not link the network and OpenPGP code.
package lists

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/greypm/grey/internal/atomicfile"
	"github.com/greypm/grey/internal/rootfs"
)

// Dir is where verified metadata is kept inside a root: one folder per
// source, named by the source's ID.
const Dir = "var/lib/grey/lists"

// StateFile is the manifest of a source's verified state. It is written
// last, by rename, so it always names a complete set of verified files.
const StateFile = "state.json"

// FormatVersion is the manifest format this package reads and writes.
const FormatVersion = 1

// State is the verified metadata of one source as stored in a root: what its
// accepted Release said and where its index files are. Every file it names
// was checked against the signed Release before the state was written.
type State struct {
	Version  int    `json:"version"`
	SourceID string `json:"source_id"`
	// Source is the source as configured, for messages.
	Source string `json:"source"`
	URI    string `json:"uri"`
	Suite  string `json:"suite"`
	// Accepted is when this state was accepted, by the updating clock.
	Accepted time.Time   `json:"accepted"`
	Release  ReleaseInfo `json:"release"`
	Indexes  []IndexFile `json:"indexes"`
}

// ReleaseInfo is what a verified Release said, and where it is kept.
type ReleaseInfo struct {
	// File is the stored InRelease (or Release when the source had no
	// InRelease), byte for byte as fetched; Signature the stored Release.gpg
	// in the second case. Both are absolute paths once loaded.
	File      string `json:"file"`
	Signature string `json:"signature,omitempty"`
	// SHA256 is the hash of File.
	SHA256 string `json:"sha256"`
	// Signer is the fingerprint of the key that signed it ("" for a source
	// marked trusted=yes that had no signature).
	Signer        string    `json:"signer,omitempty"`
	Origin        string    `json:"origin,omitempty"`
	Label         string    `json:"label,omitempty"`
	Suite         string    `json:"suite,omitempty"`
	Codename      string    `json:"codename,omitempty"`
	Version       string    `json:"version,omitempty"`
	Date          time.Time `json:"date"`
	ValidUntil    time.Time `json:"valid_until,omitzero"`
	Architectures []string  `json:"architectures,omitempty"`
	Components    []string  `json:"components,omitempty"`
	AcquireByHash bool      `json:"acquire_by_hash,omitempty"`
	// NotAutomatic and ButAutomaticUpgrades set the release's default
	// pin priority (repo/policy). A state written before grey kept them
	// reads as false until the next update.
	NotAutomatic         bool `json:"not_automatic,omitempty"`
	ButAutomaticUpgrades bool `json:"but_automatic_upgrades,omitempty"`
}

// IndexFile is one verified Packages file.
type IndexFile struct {
	// Component is "" for a flat repository.
	Component string `json:"component,omitempty"`
	// Arch is the architecture ("all" for binary-all), "" for a flat
	// repository.
	Arch string `json:"arch,omitempty"`
	// Name is the file's path in the Release, e.g.
	// "main/binary-amd64/Packages.xz"; its extension tells the compression.
	Name string `json:"name"`
	// Path is the local file, absolute once loaded.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ErrNoState reports a source that has no verified state in the root yet.
var ErrNoState = errors.New("no verified metadata: run grey update")

// Load returns the verified state of the source with the given ID in root.
// It returns an error wrapping ErrNoState when the source was never updated
// there. The manifest is read through an os.Root of root: a lists folder
// that leads out of the root is an error naming it (rootfs.ErrOutside),
// never read. (The index files it names are read later, through an
// os.Root of root too (IndexInputs), and checked against their SHA256
// then.)
func Load(root, sourceID string) (*State, error) {
	if !SafeID(sourceID) {
		return nil, fmt.Errorf("source id %q is not a plain file name", sourceID)
	}
	r, err := openRoot(root)
	if r == nil {
		if err == nil {
			err = fmt.Errorf("%s: %w", filepath.Join(root, filepath.FromSlash(Dir), sourceID), ErrNoState)
		}
		return nil, err
	}
	defer r.Close()
	return loadIn(r, path.Join(Dir, sourceID))
}

// openRoot opens root as an os.Root; nil, and no error, when it does not
// exist.
func openRoot(root string) (*os.Root, error) {
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", root, err)
	}
	return r, nil
}

// loadIn reads the state kept in the folder rel (relative to the root)
// of r, through r (LoadDir).
func loadIn(r *os.Root, rel string) (*State, error) {
	name, err := rootfs.StateName(r, path.Join(rel, StateFile))
	if err != nil {
		return nil, err
	}
	dir := rootfs.Host(r, rel)
	data, err := r.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		if out := rootfs.Outside(r, name); out != nil {
			return nil, fmt.Errorf("read state: %w", out)
		}
		return nil, fmt.Errorf("%s: %w", dir, ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", rootfs.Explain(r, "read", name, err))
	}
	return parseState(dir, data)
}

// All returns the verified state of every source updated in root, in ID
// order. It includes sources no longer configured (update never removes a
// source's lists, since --source may replace the configured sources for one
// command): a command selects the states of its own sources by ID, with
// Load. Everything is read through an os.Root of root, as Load reads.
func All(root string) ([]*State, error) {
	r, err := openRoot(root)
	if r == nil {
		return nil, err
	}
	defer r.Close()
	name, err := rootfs.StateDirName(r, Dir)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		if out := rootfs.Outside(r, name); out != nil {
			return nil, fmt.Errorf("read %s: %w", rootfs.Host(r, name), out)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lists: %w", rootfs.Explain(r, "open", name, err))
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rootfs.Host(r, name), err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var out []*State
	for _, e := range entries {
		// A link is looked at too: one leading out of the root is an error.
		if !(e.IsDir() || e.Type()&fs.ModeSymlink != 0) || !SafeID(e.Name()) {
			continue
		}
		st, err := loadIn(r, path.Join(name, e.Name()))
		if errors.Is(err, ErrNoState) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// LoadDir returns the state kept in one source's folder (under Dir), with
// its file names made absolute; an error wrapping ErrNoState when the
// folder has none.
func LoadDir(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return parseState(dir, data)
}

// parseState reads the manifest data of the folder dir, its file names
// made absolute in dir.
func parseState(dir string, data []byte) (*State, error) {
	path := filepath.Join(dir, StateFile)
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Version != FormatVersion {
		return nil, fmt.Errorf("%s: state format %d, this grey reads %d", path, st.Version, FormatVersion)
	}
	abs := func(name string) (string, error) {
		if name == "" {
			return "", nil
		}
		if !SafeID(name) {
			return "", fmt.Errorf("%s: file name %q escapes the folder", path, name)
		}
		return filepath.Join(dir, name), nil
	}
	var err error
	if st.Release.File, err = abs(st.Release.File); err != nil {
		return nil, err
	}
	if st.Release.Signature, err = abs(st.Release.Signature); err != nil {
		return nil, err
	}
	for i := range st.Indexes {
		if st.Indexes[i].Path, err = abs(st.Indexes[i].Path); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// Rebase renames the files st names in the folder from (where LoadDir
// read it) to the folder to: the same folder by another path.
func (st *State) Rebase(from, to string) {
	re := func(p string) string {
		if p != "" && filepath.Dir(p) == from {
			return filepath.Join(to, filepath.Base(p))
		}
		return p
	}
	st.Release.File = re(st.Release.File)
	st.Release.Signature = re(st.Release.Signature)
	for i := range st.Indexes {
		st.Indexes[i].Path = re(st.Indexes[i].Path)
	}
}

// Write writes st's manifest into dir by rename, after syncing it, and
// syncs the folder: the one step that makes a new state current.
func Write(dir string, st *State) error {
	rel := *st
	rel.Indexes = slices.Clone(st.Indexes)
	rel.Release.File = filepath.Base(st.Release.File)
	if st.Release.Signature != "" {
		rel.Release.Signature = filepath.Base(st.Release.Signature)
	}
	for i := range rel.Indexes {
		rel.Indexes[i].Path = filepath.Base(rel.Indexes[i].Path)
	}
	data, err := json.MarshalIndent(&rel, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, StateFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// SafeID reports whether s can name a file in a folder without escaping it.
func SafeID(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}
