package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"

	"github.com/greypm/grey/repo/storage"
)

// stateName is the state file in the repository root. It holds only file
// names and hashes of public files, so serving it does no harm.
const stateName = ".grey-publish.json"

// stateVersion is the state file's format version.
const stateVersion = 1

// state is what previous publishes wrote: each generation (one publish of
// one suite) and the files a client holding its Release may fetch.
type state struct {
	Version     int          `json:"version"`
	Generations []generation `json:"generations"`
}

type generation struct {
	Suite string `json:"suite"`
	Date  string `json:"date"`
	// Release is the SHA256 of the generation's Release file.
	Release string `json:"release_sha256"`
	// Files are repository paths, sorted: pool files, index files under
	// their plain names and their by-hash copies.
	Files []string `json:"files"`
}

// StateError reports a state file that cannot be read. Publish stops
// rather than guess: without it, it cannot tell which old files clients
// may still need.
type StateError struct {
	Err error
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%s: %v (move it away to start the history afresh; no file is then ever deleted that was published before)", stateName, e.Err)
}

func (e *StateError) Unwrap() error { return e.Err }

func loadState(ctx context.Context, st Storage) (*state, error) {
	r, err := st.Open(ctx, stateName)
	if errors.Is(err, fs.ErrNotExist) {
		return &state{Version: stateVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &StateError{err}
	}
	var s state
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, &StateError{err}
	}
	if s.Version != stateVersion {
		return nil, &StateError{fmt.Errorf("format version %d, want %d", s.Version, stateVersion)}
	}
	for _, g := range s.Generations {
		if !slices.IsSorted(g.Files) {
			return nil, &StateError{fmt.Errorf("generation %s %s: file list not sorted", g.Suite, g.Date)}
		}
		for _, f := range g.Files {
			if !fs.ValidPath(f) || f == "." {
				return nil, &StateError{fmt.Errorf("generation %s %s: invalid path %q", g.Suite, g.Date, f)}
			}
		}
	}
	return &s, nil
}

func saveState(ctx context.Context, st Storage, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", stateName, err)
	}
	data = append(data, '\n')
	return st.Put(ctx, stateName, bytes.NewReader(data), storage.SumBytes(data))
}

// latest returns the newest generation of suite, or nil.
func (s *state) latest(suite string) *generation {
	for i := len(s.Generations) - 1; i >= 0; i-- {
		if s.Generations[i].Suite == suite {
			return &s.Generations[i]
		}
	}
	return nil
}

// collect trims s to the newest keep generations of each suite, deletes the
// files only dropped generations referenced, and saves the trimmed state.
// Files the state never recorded are never deleted.
func collect(ctx context.Context, st Storage, s *state, keep int) ([]string, error) {
	count := map[string]int{}
	var kept, dropped []generation
	for i := len(s.Generations) - 1; i >= 0; i-- {
		g := s.Generations[i]
		if count[g.Suite] < keep {
			count[g.Suite]++
			kept = append(kept, g)
		} else {
			dropped = append(dropped, g)
		}
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	slices.Reverse(kept)
	live := map[string]bool{}
	for _, g := range kept {
		for _, f := range g.Files {
			live[f] = true
		}
	}
	var doomed []string
	for _, g := range dropped {
		for _, f := range g.Files {
			if !live[f] {
				doomed = append(doomed, f)
			}
		}
	}
	sort.Strings(doomed)
	doomed = slices.Compact(doomed)
	var deleted []string
	for _, f := range doomed {
		if err := st.Delete(ctx, f); err != nil {
			return deleted, err
		}
		deleted = append(deleted, f)
	}
	s.Generations = kept
	if err := saveState(ctx, st, s); err != nil {
		return deleted, err
	}
	return deleted, st.Sync(ctx)
}
