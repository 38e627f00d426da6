package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/publish"
	"github.com/greypm/grey/repo/storage"
)

// RepoCmd groups the commands that make repositories.
type RepoCmd struct {
	Publish RepoPublishCmd `cmd:"" help:"Publish .deb files as a signed repository that apt and grey can use."`
}

// RepoPublishCmd publishes one suite and component.
type RepoPublishCmd struct {
	Key         string   `required:"" type:"existingfile" placeholder:"FILE" help:"Secret signing key (PREFIX.key.asc from 'grey key generate')."`
	Suite       string   `required:"" help:"Suite name clients put in their sources, e.g. stable."`
	Codename    string   `help:"Codename written in the Release file (default: the suite)."`
	Component   string   `default:"main" help:"Component the packages go into."`
	Arch        []string `name:"arch" required:"" placeholder:"ARCH" help:"Architecture to publish (repeatable); Architecture: all packages go into each."`
	ValidFor    string   `name:"valid-for" placeholder:"DURATION" help:"Write Valid-Until this long after now (e.g. 7d, 36h); clients refuse the repository after it, so republish before then."`
	Origin      string   `help:"Origin field of the Release file."`
	Label       string   `help:"Label field of the Release file."`
	Description string   `help:"Description field of the Release file."`
	Keep        int      `default:"3" help:"Generations whose files are kept for clients still reading them (at least 2)."`
	Out         string   `required:"" placeholder:"DIR|s3://BUCKET/PREFIX" help:"Repository root to create or update: a directory, or an S3-compatible bucket (s3://BUCKET/PREFIX?endpoint=URL&region=R; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS config files)."`
	Inputs      []string `arg:"" type:"path" name:"PKG.deb|DIR" help:".deb files, or directories searched for them: the component's whole content."`
}

// Help explains the declarative model.
func (RepoPublishCmd) Help() string {
	return `The packages given are the component's whole content: a republish adds the new
ones and drops those no longer given. Files older publishes wrote stay for
--keep generations, so clients in the middle of an update still find them.
InRelease is written last; the repository is consistent at every instant.

Point apt at it with
  deb [signed-by=/path/to/PREFIX.gpg] file:///path/to/DIR SUITE COMPONENT
or serve DIR with any web server and use http://HOST/ instead. With
--out s3://BUCKET/PREFIX the repository is written to an object store, in
the same order (pool and by-hash first, InRelease last), and clients use the
store's web endpoint. See docs/publishing.md.`
}

// Run publishes the suite.
func (c *RepoPublishCmd) Run(ctx context.Context, g *Globals) error {
	validFor, err := parseValidFor(c.ValidFor)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	k, err := key.LoadSecret(c.Key)
	if err != nil {
		return err
	}
	opts := publish.Options{
		Key:           k,
		Suite:         c.Suite,
		Codename:      c.Codename,
		Origin:        c.Origin,
		Label:         c.Label,
		Description:   c.Description,
		Components:    []publish.Component{{Name: c.Component, Inputs: c.Inputs}},
		Architectures: c.Arch,
		Date:          g.Now(),
		ValidFor:      validFor,
		Keep:          c.Keep,
	}
	st, err := storage.OpenURL(ctx, c.Out)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	if g.DryRun {
		st = publish.DryRun(st)
	}
	res, err := publish.Publish(ctx, st, opts)
	if err != nil {
		return err
	}
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(res)
	}
	verb := "published"
	if g.DryRun {
		verb = "would publish"
	}
	var idx []string
	for _, i := range res.Indexes {
		idx = append(idx, fmt.Sprintf("%s/%s %d", i.Component, i.Architecture, i.Packages))
	}
	fmt.Fprintf(g.Stdout, "%s %s to %s: %d packages (%s)\n", verb, c.Suite, c.Out, res.Packages, strings.Join(idx, ", "))
	if res.Unchanged {
		fmt.Fprintln(g.Stdout, "unchanged: the Release is identical to the one already published")
	}
	for _, list := range []struct {
		label string
		paths []string
	}{{"added", res.Added}, {"removed", res.Removed}, {"deleted", res.Deleted}} {
		for _, p := range list.paths {
			fmt.Fprintf(g.Stdout, "  %-7s %s\n", list.label, p)
		}
	}
	if g.DryRun {
		return nil
	}
	if b, ok := st.(*storage.S3); ok {
		fmt.Fprintf(g.Stdout, "source: deb [signed-by=KEYRING.gpg] %s %s %s\n", b.WebURL(), c.Suite, c.Component)
	} else if abs, err := filepath.Abs(c.Out); err == nil {
		fmt.Fprintf(g.Stdout, "source: deb [signed-by=KEYRING.gpg] file://%s %s %s\n", abs, c.Suite, c.Component)
	}
	return nil
}

// parseValidFor reads a Go duration ("36h") or a whole number of days
// ("7d"), the unit Valid-Until windows are usually given in.
func parseValidFor(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--valid-for %q: want a positive number of days (7d) or a duration (36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--valid-for %q: want a positive number of days (7d) or a duration (36h)", s)
	}
	return d, nil
}
