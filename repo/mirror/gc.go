package mirror

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/greypm/grey/deb/control"
)

// GCResult reports what GC removed.
type GCResult struct {
	// Deleted are the removed pool files and old by-hash indexes.
	Deleted []string `json:"deleted"`
	// Kept is the number of pool files still referenced.
	Kept int `json:"kept"`
}

// GC deletes the pool files that neither the current state nor any
// snapshot (tag) references, and the by-hash copies of indexes the
// current Release files no longer list (kept until now for clients that
// were reading the previous state). Untagged older commits do not keep
// pool files alive: tag what must stay servable.
func GC(ctx context.Context, m *Mirror, now func() time.Time) (*GCResult, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := m.loadState()
	if err != nil {
		return nil, err
	}
	res := &GCResult{}
	// Old by-hash copies: a by-hash file the current state does not list.
	current := map[string]bool{}
	for _, s := range st.Suites {
		for _, f := range s.Files {
			current[f] = true
		}
	}
	dists, err := m.Storage.List(ctx, "dists/")
	if err != nil {
		return nil, err
	}
	for _, name := range dists {
		if strings.Contains(name, "/by-hash/") && !current[name] && len(st.Suites) > 0 {
			if err := m.Storage.Delete(ctx, name); err != nil {
				return nil, err
			}
			res.Deleted = append(res.Deleted, name)
		}
	}
	if len(res.Deleted) > 0 || !st.Committed {
		if _, err := commitDists(m.Dir, fmt.Sprintf("gc %s: %d old by-hash indexes deleted\n", m.Config.Name, len(res.Deleted)), now()); err != nil {
			return nil, err
		}
		st.Committed = true
		if err := m.saveState(st); err != nil {
			return nil, err
		}
	}
	// The pool files of HEAD and of every tag.
	r, err := git.PlainOpen(m.Dir)
	if err != nil {
		return nil, err
	}
	var roots []*object.Commit
	if head, err := r.Head(); err == nil {
		c, err := r.CommitObject(head.Hash())
		if err != nil {
			return nil, err
		}
		roots = append(roots, c)
	}
	tags, err := r.Tags()
	if err != nil {
		return nil, err
	}
	err = tags.ForEach(func(ref *plumbing.Reference) error {
		c, err := resolve(r, ref.Name().String())
		if err != nil {
			return err
		}
		roots = append(roots, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	seen := map[plumbing.Hash]bool{}
	for _, c := range roots {
		files, err := packagesFiles(c)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if seen[f.Hash] {
				continue
			}
			seen[f.Hash] = true
			err := readStanzas(f, func(s *control.Stanza) error {
				keep[s.Get("Filename")] = true
				return ctx.Err()
			})
			if err != nil {
				return nil, err
			}
		}
	}
	pool, err := m.Storage.List(ctx, "pool/")
	if err != nil {
		return nil, err
	}
	for _, name := range pool {
		if keep[name] {
			res.Kept++
			continue
		}
		if err := m.Storage.Delete(ctx, name); err != nil {
			return nil, err
		}
		res.Deleted = append(res.Deleted, name)
	}
	_ = os.RemoveAll(m.meta("staging"))
	return res, nil
}
