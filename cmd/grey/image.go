package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/greypm/grey/image"
	"github.com/greypm/grey/internal/bytesize"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/repo/fetch"
)

// ImageCmd groups the commands that compose image roots.
type ImageCmd struct {
	Build ImageBuildCmd `cmd:"" help:"Compose a root file system from a spec, as a directory, a tar file or an OCI layout."`
	Lock  ImageLockCmd  `cmd:"" help:"Resolve a spec and write its lock file (SPEC.lock) without building."`
}

// imageState are the flags on where verified metadata is kept.
type imageState struct {
	StateDir string `name:"state-dir" type:"path" placeholder:"DIR" help:"Keep the sources' verified metadata and downloaded packages here (default: the user cache directory, grey/image)."`
}

func (s imageState) dir() (string, error) {
	if s.StateDir != "" {
		return s.StateDir, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no --state-dir and no user cache directory: %w", err)
	}
	return filepath.Join(c, "grey", "image"), nil
}

// open reads the spec (bad input: exit status 2), the state directory and
// a fetcher under the host's network settings (grey.conf under --root,
// the environment's proxies), which apply to images as to install.
func (s imageState) open(g *Globals, spec string) (*image.Spec, string, *fetch.Client, error) {
	sp, err := image.ReadSpec(spec)
	if err != nil {
		return nil, "", nil, &exitError{Code: 2, Err: err}
	}
	state, err := s.dir()
	if err != nil {
		return nil, "", nil, err
	}
	fetcher, err := newFetcher(g, fetch.WithConcurrency(4))
	if err != nil {
		return nil, "", nil, err
	}
	return sp, state, fetcher, nil
}

// ImageBuildCmd builds an image.
type ImageBuildCmd struct {
	imageState
	Spec   string `arg:"" type:"existingfile" help:"The spec file (YAML)."`
	Output string `short:"o" required:"" placeholder:"OUT" help:"A directory (created, or empty), FILE.tar / .tar.gz / .tar.zst, or oci:DIR (an OCI image layout)."`
	Locked bool   `help:"Build only from SPEC.lock: fetch exactly the locked files and check their size and SHA256; fail if the lock is missing, stale or a file differs."`
}

// Help explains the spec, the lock and reproducibility.
func (ImageBuildCmd) Help() string {
	return `Resolves the spec's packages against the spec's own sources (verified with the
keyrings the spec names, never the host's), writes the lock SPEC.lock beside the
spec, downloads the locked .deb files (checked by size and SHA256) and installs
them into a fresh root. Maintainer scripts run only with "scripts: true" in the
spec. The root is a dpkg root ("dpkg --root=OUT -l") and a grey root
("grey --root OUT installed").

A tar or OCI output is byte-reproducible: the same lock and spec give the same
bytes on any machine (entries sorted, times clamped to source-date-epoch, owners
from the packages, no host names or extended attributes).

With --locked the sources are not read at all: the build uses the lock alone.
See docs/images.md for the spec's keys.`
}

// Run builds.
func (c *ImageBuildCmd) Run(ctx context.Context, g *Globals) error {
	s, state, fetcher, err := c.open(g, c.Spec)
	if err != nil {
		return err
	}
	out, err := image.ParseOutput(c.Output)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	res, err := image.Build(ctx, s, image.BuildOptions{
		Output: out, Locked: c.Locked, StateDir: state, Now: g.Now,
		Fetcher: fetcher, ScriptOutput: g.Stderr,
	})
	if err != nil {
		return err
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, res)
	}
	if res.LockWritten {
		fmt.Fprintf(g.Stdout, "Locked %d packages in %s\n", len(res.Packages), res.LockPath)
	} else {
		fmt.Fprintf(g.Stdout, "Using %s (%d packages)\n", res.LockPath, len(res.Packages))
	}
	fmt.Fprintf(g.Stdout, "Installed %d packages (%d files, %s)\n", len(res.Result.Changes), res.Result.Files, bytesize.Format(res.Result.Bytes))
	switch out.Kind {
	case image.Directory:
		fmt.Fprintf(g.Stdout, "Wrote root %s\n", res.Output)
	case image.Tarball:
		fmt.Fprintf(g.Stdout, "Wrote %s (sha256 %s)\n", res.Output, res.SHA256)
	case image.OCILayout:
		fmt.Fprintf(g.Stdout, "Wrote OCI layout %s (index.json sha256 %s)\n", res.Output, res.SHA256)
	}
	return nil
}

// ImageLockCmd resolves a spec into its lock.
type ImageLockCmd struct {
	imageState
	Spec string `arg:"" type:"existingfile" help:"The spec file (YAML)."`
}

// Help explains the lock.
func (ImageLockCmd) Help() string {
	return `Updates the spec's sources (verified with the spec's keyrings), resolves its
packages and writes SPEC.lock (spec.yaml -> spec.lock): for every package its
name, version, architecture, source, URL, size and SHA256, sorted, as JSON.
Commit the lock next to the spec; "grey image build --locked" then builds
exactly that set, byte for byte.`
}

// Run resolves and writes the lock.
func (c *ImageLockCmd) Run(ctx context.Context, g *Globals) error {
	s, state, fetcher, err := c.open(g, c.Spec)
	if err != nil {
		return err
	}
	l, path, err := image.LockSpec(ctx, s, image.ResolveOptions{StateDir: state, Now: g.Now, Fetcher: fetcher})
	if err != nil {
		return err
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, map[string]any{"lock": path, "packages": l.Packages})
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 0, 2, ' ', 0)
	for _, p := range l.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Version, p.Architecture, bytesize.Format(p.Size))
	}
	tw.Flush()
	fmt.Fprintf(g.Stdout, "Locked %d packages in %s\n", len(l.Packages), path)
	return nil
}
