package repo

import "github.com/greypm/grey/repo/lists"

// The verified state of each source lives in package lists, so that
// read-only commands need not link this package's fetching and OpenPGP
// code; these names keep repo's API whole.

// ListsDir is where verified metadata is kept inside a root: one folder per
// source, named by the source's ID.
const ListsDir = lists.Dir

// stagingDir holds downloads of an update in progress, one folder per
// source, outside ListsDir so that a refused or failed update leaves the
// lists untouched.
const stagingDir = "var/lib/grey/partial"

// stateFile is the manifest of a source's verified state.
const stateFile = lists.StateFile

// State is the verified metadata of one source as stored in a root.
type State = lists.State

// ReleaseInfo is what a verified Release said, and where it is kept.
type ReleaseInfo = lists.ReleaseInfo

// IndexFile is one verified Packages file.
type IndexFile = lists.IndexFile

// ErrNoState reports a source that has no verified state in the root yet.
var ErrNoState = lists.ErrNoState

// LoadState returns the verified state of the source with the given ID in
// root. It returns an error wrapping ErrNoState when the source was never
// updated there.
func LoadState(root, sourceID string) (*State, error) { return lists.Load(root, sourceID) }

// States returns the verified state of every source updated in root, in ID
// order (see lists.All).
func States(root string) ([]*State, error) { return lists.All(root) }
