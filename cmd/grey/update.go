package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/greypm/grey/internal/bytesize"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/transaction"
)

// updateMemoryLimit is update's soft heap limit.
const updateMemoryLimit = 128 << 20

// UpdateCmd fetches and verifies the metadata of every source.
type UpdateCmd struct {
	Jobs int `help:"Download at most N files at once (default 4, or grey.conf's Grey::Parallel-Downloads)." placeholder:"N"`
}

// Help explains what update checks and what it keeps.
func (UpdateCmd) Help() string {
	return `For each source (the --source lines, else ROOT/etc/grey/sources.list and
sources.list.d/), fetches InRelease (or Release and Release.gpg) and checks:

  - the signature, against the source's own signed-by keyring only;
  - Valid-Until has not passed (unless check-valid-until=no);
  - Date is not in the future (10 minutes of clock skew allowed);
  - the Release is for the suite the source names;
  - Date is not older than the last Release accepted for the source in
    this root (kept in ROOT/var/lib/grey/grey.db): a replayed old Release
    is refused.

Then it fetches each component's Packages index and checks its size and
SHA256 against the Release. A source whose metadata fails any check keeps its
previous verified state; the other sources are still updated.

Prints one line per source: Hit (unchanged), Get (new metadata), Refused
(with the file and the reason) or Err (could not fetch). Exits 1 if any
source was not updated.`
}

// Run updates the sources and prints one line per source.
func (c *UpdateCmd) Run(ctx context.Context, g *Globals) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// Building the index cache parses every stanza (bookworm main:
		// 440 MB allocated, about 90 MB live at the end); without a soft
		// limit the collector lets the heap reach twice the live data
		// (peak RSS 167 MB); with 128 MiB the peak is 137 MB for ~0.1 s
		// more CPU (100 MiB: 123 MB, ~0.3 s).
		debug.SetMemoryLimit(updateMemoryLimit)
	}
	srcs, err := cli.CommandSources(g)
	if err != nil {
		return err
	}
	if len(srcs) == 0 {
		return &exitError{Code: 2, Err: fmt.Errorf("no sources: add them to %s/%s or give --source", g.Root, sources.ListFile)}
	}
	jobs, err := g.Jobs(c.Jobs)
	if err != nil {
		return err
	}
	fopts := []fetch.Option{fetch.WithConcurrency(jobs)}
	var bar *fetch.Bar
	if g.Progress(g.Stderr) {
		bar = fetch.NewBar(g.Stderr, time.Now)
		fopts = append(fopts, fetch.WithProgress(bar))
	}
	fetcher, err := newFetcher(g, fopts...)
	if err != nil {
		return err
	}
	lock, err := pkgdb.LockRoot(ctx, g.Root, pkgdb.LockOptions{Waiting: func(e *pkgdb.LockedError) {
		fmt.Fprintf(g.Stderr, "grey: waiting: %v\n", e)
	}})
	if err != nil {
		return err
	}
	defer lock.Unlock()
	db, err := pkgdb.Open(g.Root, pkgdb.Options{})
	if err != nil {
		return err
	}
	defer db.Close()

	// Every architecture of the root (dpkg's arch file), native first.
	archs, err := transaction.Architectures(g.Root)
	if err != nil {
		return err
	}
	results, uerr := repo.Update(ctx, srcs, repo.Options{
		Root:          g.Root,
		Now:           g.Now,
		Store:         db,
		Fetcher:       fetcher,
		Architectures: archs,
	})
	if bar != nil {
		bar.Clear()
	}
	if g.JSON {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(updateJSON(results)); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintln(g.Stdout, updateLine(r))
		}
	}
	if uerr != nil {
		if results == nil {
			return uerr
		}
		failed := 0
		for _, r := range results {
			if r.Err != nil {
				failed++
			}
		}
		return &exitError{Code: 1, Err: fmt.Errorf("%d of %d sources not updated; they keep their previous verified metadata", failed, len(results))}
	}
	// Build the parsed index cache now, as apt builds pkgcache.bin during
	// update, so the first command afterwards starts fast. A hit changes
	// nothing and costs one header check per cache file.
	x, err := cli.OpenIndex(ctx, g)
	if err != nil {
		return fmt.Errorf("build the index cache: %w", err)
	}
	return x.Close()
}

// where names a source as apt's update output does: URI and suite.
func where(r repo.Result) string {
	return r.Source.URI.String() + " " + r.Source.Suite
}

func updateLine(r repo.Result) string {
	switch r.Status {
	case repo.Hit:
		return fmt.Sprintf("Hit %s", where(r))
	case repo.Get:
		return fmt.Sprintf("Get %s [%d index(es), %s fetched]", where(r), len(r.State.Indexes), bytesize.Format(r.Downloaded))
	}
	var re *repo.RefusedError
	if errors.As(r.Err, &re) {
		s := fmt.Sprintf("Refused %s: %s: %s", where(r), re.File, re.Reason)
		if re.Err != nil {
			s += ": " + re.Err.Error()
		}
		return s
	}
	var fe *repo.FetchError
	if errors.As(r.Err, &fe) {
		return fmt.Sprintf("Err %s: %s: %v", where(r), fe.File, fe.Err)
	}
	return fmt.Sprintf("Err %s: %v", where(r), r.Err)
}

// updateResult is one source in --json output.
type updateResult struct {
	Source     string     `json:"source"`
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Date       *time.Time `json:"date,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	Signer     string     `json:"signer,omitempty"`
	Indexes    int        `json:"indexes"`
	Downloaded int64      `json:"downloaded"`
	File       string     `json:"file,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Error      string     `json:"error,omitempty"`
}

func updateJSON(results []repo.Result) []updateResult {
	out := make([]updateResult, 0, len(results))
	for _, r := range results {
		u := updateResult{Source: r.Source.String(), ID: r.ID, Status: string(r.Status), Downloaded: r.Downloaded}
		if r.State != nil {
			d := r.State.Release.Date
			u.Date = &d
			if vu := r.State.Release.ValidUntil; !vu.IsZero() {
				u.ValidUntil = &vu
			}
			u.Signer = r.State.Release.Signer
			u.Indexes = len(r.State.Indexes)
		}
		if r.Err != nil {
			u.Error = r.Err.Error()
			var re *repo.RefusedError
			var fe *repo.FetchError
			switch {
			case errors.As(r.Err, &re):
				u.File, u.Reason = re.File, re.Reason
			case errors.As(r.Err, &fe):
				u.File = fe.File
			}
		}
		out = append(out, u)
	}
	return out
}
