package image

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greypm/grey/internal/digest"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/transaction"
)

// OutputKind is what Build writes.
type OutputKind int

// Output kinds.
const (
	// Directory is a composed root, ready to chroot into.
	Directory OutputKind = iota
	// Tarball is a tar archive of the root, perhaps compressed.
	Tarball
	// OCILayout is an OCI image layout directory with one layer.
	OCILayout
)

// Output is where and how Build writes the image.
type Output struct {
	Kind        OutputKind
	Path        string
	Compression Compression
}

// ParseOutput reads the -o argument: "oci:DIR" is an OCI layout; a name
// ending in .tar, .tar.gz, .tgz or .tar.zst a tar file; anything else a
// directory.
func ParseOutput(s string) (Output, error) {
	if s == "" {
		return Output{}, errors.New("no output given")
	}
	if rest, ok := strings.CutPrefix(s, "oci:"); ok {
		if rest == "" {
			return Output{}, errors.New("oci: needs a directory (oci:DIR)")
		}
		return Output{Kind: OCILayout, Path: rest}, nil
	}
	if c, ok := CompressionOf(s); ok {
		return Output{Kind: Tarball, Path: s, Compression: c}, nil
	}
	return Output{Kind: Directory, Path: s}, nil
}

// BuildOptions configure Build.
type BuildOptions struct {
	Output Output
	// Locked builds only from the spec's lock file (LockPath), failing
	// when it is missing or stale; otherwise the spec is resolved afresh
	// and the lock (re)written.
	Locked bool
	// StateDir keeps the sources' verified metadata and downloaded
	// packages between builds (see ResolveOptions.StateDir).
	StateDir string
	// TempDir is where a tar or OCI output's root is composed before it is
	// written; "" means the system's temporary directory.
	TempDir string
	// Now is the clock for the Release checks.
	Now func() time.Time
	// Fetcher downloads; nil means fetch.New().
	Fetcher *fetch.Client
	// ScriptOutput receives maintainer scripts' output.
	ScriptOutput io.Writer
}

// BuildResult reports a build.
type BuildResult struct {
	// LockPath is the lock the build used (and wrote, unless Locked).
	LockPath string `json:"lock"`
	// LockWritten is true when the lock was (re)written.
	LockWritten bool                `json:"lock_written"`
	Packages    []LockedPackage     `json:"packages"`
	Result      *transaction.Result `json:"result"`
	Output      string              `json:"output"`
	// SHA256 is the tar file's digest, or the OCI manifest's digest.
	SHA256 string `json:"sha256,omitempty"`
}

// Build makes the image the spec describes: it resolves (or reads the lock),
// composes the root and writes the output.
func Build(ctx context.Context, s *Spec, opts BuildOptions) (*BuildResult, error) {
	f := opts.Fetcher
	if f == nil {
		f = fetch.New()
	}
	res := &BuildResult{LockPath: LockPath(s.Path)}
	var l *Lock
	if opts.Locked {
		var err error
		if l, err = ReadLock(res.LockPath); err != nil {
			return nil, err
		}
		if err := l.CheckFresh(s, res.LockPath); err != nil {
			return nil, err
		}
	} else {
		var err error
		l, err = Resolve(ctx, s, ResolveOptions{StateDir: opts.StateDir, Now: opts.Now, Fetcher: f})
		if err != nil {
			return nil, err
		}
		if err := WriteLock(res.LockPath, l); err != nil {
			return nil, err
		}
		res.LockWritten = true
	}
	res.Packages = l.Packages
	copts := ComposeOptions{CacheDir: opts.StateDir, Fetcher: f, ScriptOutput: opts.ScriptOutput}
	out := opts.Output
	res.Output = out.Path
	if out.Kind == Directory {
		tr, err := Compose(ctx, s, l, out.Path, copts)
		res.Result = tr
		return res, err
	}
	work, err := os.MkdirTemp(opts.TempDir, "grey-image-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")
	tr, err := Compose(ctx, s, l, root, copts)
	if err != nil {
		return nil, err
	}
	res.Result = tr
	switch out.Kind {
	case Tarball:
		if err := WriteTarFile(ctx, root, out.Path, out.Compression, s.SourceDateEpoch); err != nil {
			return nil, err
		}
		sum, err := fileSHA256(out.Path)
		if err != nil {
			return nil, err
		}
		res.SHA256 = sum
	case OCILayout:
		if err := WriteOCI(ctx, root, out.Path, s.Architecture, s.SourceDateEpoch, s.Command); err != nil {
			return nil, err
		}
		sum, err := fileSHA256(filepath.Join(out.Path, "index.json"))
		if err != nil {
			return nil, err
		}
		res.SHA256 = sum
	}
	return res, nil
}

// LockSpec resolves the spec and writes its lock (LockPath).
func LockSpec(ctx context.Context, s *Spec, opts ResolveOptions) (*Lock, string, error) {
	l, err := Resolve(ctx, s, opts)
	if err != nil {
		return nil, "", err
	}
	p := LockPath(s.Path)
	return l, p, WriteLock(p, l)
}

func fileSHA256(path string) (string, error) { return digest.File(path) }
