package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/lists"
	"github.com/greypm/grey/repo/policy"
	"github.com/greypm/grey/repo/sources"
)

// LoadedIndex is the package index of the command's sources, with how to
// name each of its inputs.
type LoadedIndex struct {
	*index.Index
	// Inputs describe the index's inputs, in Load's order.
	Inputs []InputInfo
	// Policy is apt's policy over the index: the priorities of its
	// inputs (files 0..len(Inputs)-1) and of dpkg's status file (the
	// last file) under the root's apt preferences.
	Policy *policy.IndexPolicy
}

// InputInfo names one input the way apt names a Packages file.
type InputInfo struct {
	SourceID string
	// Suite is the suite as configured (bookworm-security).
	Suite string
	// Label reads "URI SUITE/COMPONENT ARCH Packages", as apt-cache policy
	// prints it.
	Label string
}

// OpenIndex loads the index of the command's sources (--source lines, else
// the root's configured sources) from their verified state in the root,
// building the cache under ROOT/var/cache/grey/index where it is missing or
// stale. A source that was never updated is an error naming it. Commands
// that read the index (show, policy, install...) share it; close it.
func OpenIndex(ctx context.Context, g *Globals) (*LoadedIndex, error) {
	srcs, err := CommandSources(g)
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("no sources: add them to %s or give --source", filepath.Join(g.Root, sources.ListFile))}
	}
	x, ins, res, err := lists.OpenIndex(ctx, g.Root, srcs, compress.SystemDecoder())
	if err != nil {
		return nil, err
	}
	infos := make([]InputInfo, len(ins))
	for i, in := range ins {
		infos[i] = InputInfo{SourceID: in.SourceID, Suite: in.Suite, Label: in.Label}
	}
	if res.Report != nil {
		for _, e := range res.Report.Skipped {
			fmt.Fprintf(g.Stderr, "grey: warning: %v\n", e)
		}
	}
	pol, err := loadPolicy(g, x, ins)
	if err != nil {
		x.Close()
		return nil, err
	}
	return &LoadedIndex{Index: x, Inputs: infos, Policy: pol}, nil
}

// loadPolicy reads the root's apt preferences and gives the index its
// policy; a preferences file apt would refuse is an error naming it.
func loadPolicy(g *Globals, x *index.Index, ins []lists.IndexInput) (*policy.IndexPolicy, error) {
	pins, warnings, err := policy.Load(g.Root)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintf(g.Stderr, "grey: warning: %s\n", w)
	}
	files := append(policy.InputFiles(ins), policy.StatusFile())
	p, err := policy.New(files, pins, deb.HostArch(), g.TargetRelease)
	if err != nil {
		return nil, err
	}
	inputFile := make([]int, len(ins))
	for i := range inputFile {
		inputFile[i] = i
	}
	return policy.ForIndex(p, x, inputFile, len(files)-1), nil
}

// WithIndex runs a command that reads the index: it opens the index, lets
// run write its output to a buffer, and prints it only if the cache files
// held up. A cache file found damaged on the way (the index checks each
// block when it first reads it, and removes a damaged file) is rebuilt and
// the command run again, once.
func WithIndex(ctx context.Context, g *Globals, run func(context.Context, *Globals, *LoadedIndex, io.Writer) error) error {
	for attempt := 0; ; attempt++ {
		x, err := OpenIndex(ctx, g)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		err = run(ctx, g, x, &out)
		xerr := x.Err()
		x.Close()
		var ce *index.CorruptError
		if attempt == 0 && errors.As(xerr, &ce) {
			fmt.Fprintf(g.Stderr, "grey: warning: %v: rebuilding it\n", ce)
			continue
		}
		if xerr != nil {
			return xerr
		}
		if _, werr := g.Stdout.Write(out.Bytes()); werr != nil {
			return werr
		}
		return err
	}
}

// NotFoundError is the exit status and message for names the index does
// not have, or nil when every name was found.
func NotFoundError(missing []error) error {
	if len(missing) == 0 {
		return nil
	}
	return &ExitError{Code: ExitNotFound, Err: errors.Join(missing...)}
}

// NotFound is the error for names the index does not have; like apt-cache,
// it names the providers of a virtual package.
func (x *LoadedIndex) NotFound(name string) error {
	var provs []string
	for _, p := range x.ProvidersOf(name) {
		if !slices.Contains(provs, p.Name) {
			provs = append(provs, p.Name)
		}
	}
	if len(provs) > 0 {
		return fmt.Errorf("%s is a virtual package provided by: %s", name, strings.Join(provs, ", "))
	}
	return fmt.Errorf("no package %s", name)
}
