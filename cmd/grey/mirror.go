package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/mirror"
)

// MirrorCmd groups the repository mirror's commands.
type MirrorCmd struct {
	Create    MirrorCreateCmd    `cmd:"" help:"Define a mirror of one or more sources (--source LINE, repeatable)."`
	Sync      MirrorSyncCmd      `cmd:"" help:"Fetch, verify and publish the sources' current state into the mirror."`
	Snapshot  MirrorSnapshotCmd  `cmd:"" help:"Tag a state of the mirror and serve it at snapshots/TAG."`
	Snapshots MirrorSnapshotsCmd `cmd:"" help:"List the mirror's snapshots."`
	Diff      MirrorDiffCmd      `cmd:"" help:"List the packages added, removed, upgraded and downgraded between two states."`
	Gc        MirrorGcCmd        `cmd:"" help:"Delete pool files no kept state references."`
	Serve     MirrorServeCmd     `cmd:"" help:"Serve the mirror over HTTP (for tests and small setups; any static web server will do)."`
}

// Help describes the layout.
func (MirrorCmd) Help() string {
	return `A mirror is a directory any static web server can serve: dists/ (the current
metadata, as upstream signed it), pool/ (every package, stored once),
snapshots/TAG/ (tagged states, sharing the pool) and .git (the history of
dists/, one commit per sync). See docs/mirror.md.`
}

// MirrorCreateCmd defines a mirror.
type MirrorCreateCmd struct {
	Name         string   `arg:"" help:"Name of the mirror."`
	Arch         []string `name:"arch" placeholder:"ARCH" help:"Architecture to mirror (repeatable; default: each source's arch option, else the host's)."`
	Component    []string `name:"component" placeholder:"COMP" help:"Component to mirror (repeatable; default: those each source names)."`
	Dir          string   `placeholder:"DIR|s3://BUCKET/PREFIX" help:"Directory of the mirror (default ROOT/var/lib/grey/mirrors/NAME), or an S3-compatible bucket to publish it to (its state then stays in the default directory)."`
	Packages     []string `name:"packages" placeholder:"LIST" help:"Mirror only these packages (names separated by spaces or commas; repeatable)."`
	WithDeps     bool     `name:"with-deps" help:"With --packages: add their dependency closure over the full index."`
	Recommends   bool     `help:"With --with-deps: follow Recommends too."`
	Closure      string   `enum:"all,preferred" default:"all" help:"With --with-deps: follow every alternative (all) or only those apt would choose (preferred)."`
	Key          string   `type:"existingfile" placeholder:"FILE" help:"Secret key (PREFIX.key.asc from 'grey key generate') that signs a filtered mirror."`
	AllowMissing bool     `name:"allow-missing" help:"Tolerate pool files the upstream lacks (an upstream that is itself a partial copy)."`
}

// Run records the mirror.
func (c *MirrorCreateCmd) Run(ctx context.Context, g *Globals) error {
	if len(g.Sources) == 0 {
		return &exitError{Code: 2, Err: errors.New("mirror create: give the upstream with --source LINE (repeatable)")}
	}
	var pkgs []string
	for _, p := range c.Packages {
		pkgs = append(pkgs, strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	cfg := mirror.Config{
		Name: c.Name, Sources: g.Sources, Architectures: c.Arch, Components: c.Component,
		Packages: pkgs, WithDeps: c.WithDeps, Recommends: c.Recommends, Key: c.Key, AllowMissing: c.AllowMissing,
	}
	if len(pkgs) > 0 {
		cfg.Closure = c.Closure
	}
	m, err := mirror.Create(g.Root, c.Dir, cfg)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSON(g, map[string]string{"name": c.Name, "dir": m.Dir})
	}
	if m.Config.Target != "" {
		fmt.Fprintf(g.Stdout, "mirror %s created in %s, publishing to %s; run grey mirror sync %s\n", c.Name, m.Dir, m.Config.Target, c.Name)
		return nil
	}
	fmt.Fprintf(g.Stdout, "mirror %s created in %s; run grey mirror sync %s\n", c.Name, m.Dir, c.Name)
	return nil
}

func writeJSON(g *Globals, v any) error {
	enc := json.NewEncoder(g.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// MirrorSyncCmd syncs a mirror.
type MirrorSyncCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
	Jobs int    `help:"Download at most N files at once." default:"8" placeholder:"N"`
}

// Help explains the checks and the switch.
func (MirrorSyncCmd) Help() string {
	return `Verifies each source's InRelease (or Release and Release.gpg) exactly as grey
update does (signed-by keyring, Valid-Until, Date not in the future, the suite,
and no Release older than the one the mirror serves), fetches every index it
lists for the mirror's components and architectures and every pool file they
name, each checked against its size and SHA256. Only then does the served tree
change: pool, by-hash, indexes, Release, InRelease last. An interrupted sync
continues where it stopped. dists/ is then committed to the mirror's git
history.

Prints a progress bar on a terminal and a summary (files, bytes, time).
Exit status 1 when a source was refused or could not be fetched: the served
mirror is then exactly as it was.`
}

// Run syncs.
func (c *MirrorSyncCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	fopts := []fetch.Option{fetch.WithConcurrency(max(c.Jobs, 1))}
	var bar *fetch.Bar
	if g.Progress(g.Stderr) {
		bar = fetch.NewBar(g.Stderr, time.Now)
		fopts = append(fopts, fetch.WithProgress(bar))
	}
	// grey.conf's network settings (proxies, CA file, timeouts) apply to
	// a mirror's downloads as to update's.
	fetcher, err := newFetcher(g, fopts...)
	if err != nil {
		return err
	}
	sum, err := mirror.Sync(ctx, m, mirror.SyncOptions{Now: g.Now, Fetcher: fetcher})
	if bar != nil {
		bar.Clear()
	}
	if err != nil {
		var re *repo.RefusedError
		if errors.As(err, &re) {
			return &exitError{Code: 1, Err: fmt.Errorf("refused: %w (the mirror is unchanged)", err)}
		}
		return &exitError{Code: 1, Err: fmt.Errorf("%w (the served mirror is unchanged)", err)}
	}
	if g.JSON {
		return writeJSON(g, sum)
	}
	fmt.Fprintf(g.Stdout, "%s\n", sum)
	if sum.Commit != "" {
		fmt.Fprintf(g.Stdout, "commit %s\n", sum.Commit)
	}
	return nil
}

// MirrorSnapshotCmd tags a state.
type MirrorSnapshotCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
	Tag  string `arg:"" help:"Name of the snapshot."`
	From string `default:"HEAD" placeholder:"REV" help:"State to tag: a commit, tag or HEAD~N."`
}

// Run tags.
func (c *MirrorSnapshotCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	s, err := mirror.TakeSnapshot(ctx, m, c.Tag, c.From)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSON(g, s)
	}
	fmt.Fprintf(g.Stdout, "snapshot %s = %s (%s); serve it as URL/snapshots/%s\n", s.Tag, s.Commit[:12], s.Subject, s.Tag)
	return nil
}

// MirrorSnapshotsCmd lists snapshots.
type MirrorSnapshotsCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
}

// Run lists.
func (c *MirrorSnapshotsCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	ss, err := mirror.Snapshots(m)
	if err != nil {
		return err
	}
	if g.JSON {
		if ss == nil {
			ss = []mirror.Snapshot{}
		}
		return writeJSON(g, ss)
	}
	for _, s := range ss {
		fmt.Fprintf(g.Stdout, "%s\t%s\t%s\t%s\n", s.Tag, s.Commit[:12], s.When.UTC().Format(time.RFC3339), s.Subject)
	}
	return nil
}

// MirrorDiffCmd compares two states.
type MirrorDiffCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
	A    string `arg:"" help:"Older state: a snapshot, a commit or HEAD~N."`
	B    string `arg:"" help:"Newer state."`
}

// Run prints the changes.
func (c *MirrorDiffCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	chs, err := mirror.Diff(ctx, m, c.A, c.B)
	if err != nil {
		return err
	}
	if g.JSON {
		if chs == nil {
			chs = []mirror.Change{}
		}
		return writeJSON(g, chs)
	}
	for _, ch := range chs {
		fmt.Fprintln(g.Stdout, ch.String())
	}
	return nil
}

// MirrorGcCmd deletes unreferenced pool files.
type MirrorGcCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
}

// Run collects.
func (c *MirrorGcCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	res, err := mirror.GC(ctx, m, g.Now)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSON(g, res)
	}
	for _, d := range res.Deleted {
		fmt.Fprintf(g.Stdout, "deleted %s\n", d)
	}
	fmt.Fprintf(g.Stdout, "%d files deleted, %d pool files kept\n", len(res.Deleted), res.Kept)
	return nil
}

// MirrorServeCmd serves a mirror's directory.
type MirrorServeCmd struct {
	Name string `arg:"" help:"Name of the mirror."`
	Addr string `default:"127.0.0.1:8080" help:"Address to listen on."`
}

// Run serves until interrupted.
func (c *MirrorServeCmd) Run(ctx context.Context, g *Globals) error {
	m, err := mirror.Open(g.Root, c.Name)
	if err != nil {
		return err
	}
	if m.Config.Target != "" {
		return fmt.Errorf("mirror %s is published to %s: serve it from the store's web endpoint", c.Name, m.Config.Target)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mirror.Handler(m), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(g.Stdout, "serving mirror %s (%s) at http://%s/\n", c.Name, m.Dir, ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
