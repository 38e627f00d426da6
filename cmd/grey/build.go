package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/compress"
)

// BuildCmd builds a .deb from a directory tree, as dpkg-deb --build does.
type BuildCmd struct {
	Dir      string `arg:"" type:"existingdir" help:"Package tree: the files as installed, plus DEBIAN/control (and optionally conffiles, maintainer scripts, md5sums)."`
	Output   string `short:"o" type:"path" placeholder:"FILE" help:"Write the package to FILE (or into FILE when it is a directory). Default: NAME_VERSION_ARCH.deb in the current directory."`
	Compress string `default:"xz" enum:"xz,gz,zst,none" help:"Compression of the control and data members: xz, gz, zst or none."`
	Sign     string `type:"existingfile" placeholder:"KEY.asc" help:"Add a debsigs origin signature (_gpgorigin) made with this secret key (no passphrase), e.g. from grey key generate."`
}

// Help explains what build checks and adds.
func (BuildCmd) Help() string {
	return `Builds DIR into a Debian binary package, as "dpkg-deb --build" does, and
adds what dpkg-gencontrol and dh_md5sums would: Installed-Size (when
DEBIAN/control lacks it) and DEBIAN/md5sums (when absent).

DEBIAN/control must have Package, Version, Architecture, Maintainer and
Description; maintainer scripts must be executable (mode 0555 to 0775);
conffiles must be regular files in the tree. Entries are sorted, owned by
root/root, and their times clamped to $SOURCE_DATE_EPOCH when it is set, so
the same tree and epoch always give the same bytes.`
}

// sourceDateEpoch reads $SOURCE_DATE_EPOCH (seconds since 1970), the
// reproducible-builds convention; unset means no clamping.
func sourceDateEpoch() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// compressFormat maps a --compress name to its format.
func compressFormat(name string) compress.Format {
	switch name {
	case "gz":
		return compress.Gzip
	case "zst":
		return compress.Zstd
	case "none":
		return compress.None
	}
	return compress.Xz
}

// Run builds the package into a temporary file beside the output and
// renames it into place, so a failed build never leaves a partial .deb.
func (c *BuildCmd) Run(ctx context.Context, g *Globals) error {
	epoch, err := sourceDateEpoch()
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	opts := archive.BuildOptions{Compression: compressFormat(c.Compress), SourceDateEpoch: epoch}
	if c.Sign != "" {
		f, err := os.Open(c.Sign)
		if err != nil {
			return &exitError{Code: 2, Err: err}
		}
		opts.Signer, err = archive.ReadSigningKey(f)
		f.Close()
		if err != nil {
			return &exitError{Code: 2, Err: fmt.Errorf("%s: %w", c.Sign, err)}
		}
	}
	outDir, outName := ".", ""
	if c.Output != "" {
		if fi, err := os.Stat(c.Output); err == nil && fi.IsDir() {
			outDir = c.Output
		} else {
			outDir, outName = filepath.Dir(c.Output), filepath.Base(c.Output)
		}
	}
	tmp, err := os.CreateTemp(outDir, ".grey-build-*.deb")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	opts.TempDir = outDir
	res, err := archive.Build(ctx, c.Dir, tmp, opts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, archive.ErrInvalidTree) {
			return &exitError{Code: 1, Err: err}
		}
		return err
	}
	if outName == "" {
		outName = res.FileName()
	}
	out := filepath.Join(outDir, outName)
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(map[string]any{
			"file":         out,
			"package":      res.Package,
			"version":      res.Version,
			"architecture": res.Architecture,
			"size":         res.Size,
			"entries":      res.Entries,
			"signed":       opts.Signer != nil,
		})
	}
	signed := ""
	if opts.Signer != nil {
		signed = ", signed"
	}
	_, err = fmt.Fprintf(g.Stdout, "built %s %s (%s): %s, %d bytes, %d entries%s\n",
		res.Package, res.Version, res.Architecture, out, res.Size, res.Entries, signed)
	return err
}
