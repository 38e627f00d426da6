package lists

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/sources"
)

// IndexInput is one verified Packages file of a root's sources, as
// index.Load takes it, with the names apt gives it.
type IndexInput struct {
	index.Input
	SourceID string
	// Suite is the suite as configured (bookworm-security).
	Suite string
	// Label reads "URI SUITE/COMPONENT ARCH Packages", as apt-cache policy
	// prints it.
	Label string
	// URI is the source's; Release what its verified Release said;
	// Component and Arch the Packages file's ("" for a flat repository).
	URI             string
	Release         ReleaseInfo
	Component, Arch string
}

// IndexInputs returns the Packages files of srcs (binary sources, each
// once) from their verified state in root, decoded with dec. A source
// that was never updated is an error naming it (errors.Is ErrNoState).
// Each file is opened through an os.Root of root, as its state was read
// (openIndex).
func IndexInputs(root string, srcs []*sources.Source, dec compress.Decoder) ([]IndexInput, error) {
	var out []IndexInput
	seen := map[string]bool{}
	for _, s := range srcs {
		id := s.ID()
		if !s.IsBinary() || seen[id] {
			continue
		}
		seen[id] = true
		st, err := Load(root, id)
		if errors.Is(err, ErrNoState) {
			return nil, fmt.Errorf("source %s: %w", s, err)
		}
		if err != nil {
			return nil, err
		}
		for _, f := range st.Indexes {
			dist := st.Suite
			if f.Component != "" {
				dist += "/" + f.Component
			}
			out = append(out, IndexInput{
				Input: index.Input{Origin: st.SourceID, Path: f.Path, SHA256: f.SHA256, Decoder: dec,
					Open: openIndex(root, id, filepath.Base(f.Path))},
				SourceID: st.SourceID, Suite: st.Suite,
				Label: strings.TrimSpace(strings.Join([]string{aptURI(st.URI), dist, f.Arch, "Packages"}, " ")),
				URI:   st.URI, Release: st.Release, Component: f.Component, Arch: f.Arch,
			})
		}
	}
	return out, nil
}

// OpenIndex loads the package index of srcs from their verified state in
// root (IndexInputs), building the cache under root's index.CacheDirIn
// where it is missing or stale: the index a Go program resolves against
// (transaction.Prepare) as grey's commands do. Close it.
func OpenIndex(ctx context.Context, root string, srcs []*sources.Source, dec compress.Decoder) (*index.Index, []IndexInput, *index.LoadResult, error) {
	ins, err := IndexInputs(root, srcs, dec)
	if err != nil {
		return nil, nil, nil, err
	}
	inputs := make([]index.Input, len(ins))
	for i, in := range ins {
		inputs[i] = in.Input
	}
	x, res, err := index.Load(ctx, filepath.Join(root, filepath.FromSlash(index.CacheDirIn)), inputs)
	if err != nil {
		return nil, nil, nil, err
	}
	return x, ins, res, nil
}

// aptURI writes a source's URI as apt prints it in messages and policy:
// "file:/srv/repo" for "file:///srv/repo", other URIs as they are.
func aptURI(uri string) string {
	if rest, ok := strings.CutPrefix(uri, "file://"); ok && strings.HasPrefix(rest, "/") {
		return "file:" + rest
	}
	return uri
}

// openIndex opens the file name of the source id's lists folder in root
// through an os.Root of root, as Load reads its state: a lists folder
// that leads out of the root (swapped for a link since the state was
// read) is an error naming it (rootfs.ErrOutside), never read.
func openIndex(root, id, name string) func() (*os.File, error) {
	return func() (*os.File, error) {
		r, err := os.OpenRoot(root)
		if err != nil {
			return nil, fmt.Errorf("open root %s: %w", root, err)
		}
		defer r.Close()
		rel, err := rootfs.StateName(r, path.Join(Dir, id, name))
		if err != nil {
			return nil, err
		}
		f, err := r.Open(rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if out := rootfs.Outside(r, rel); out != nil {
					return nil, fmt.Errorf("open %s: %w", rootfs.Host(r, rel), out)
				}
			}
			return nil, rootfs.Explain(r, "open", rel, err)
		}
		return f, nil
	}
}
