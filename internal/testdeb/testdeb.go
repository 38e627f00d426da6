// Package testdeb builds small, reproducible .deb files with grey's own
// builder (deb/archive) and fixed OpenPGP signing keys (repo/key), for the
// tests of the packages that publish, mirror or install them.
//
// It sits below deb/archive and repo/key (it imports both), so their own
// tests cannot use it; internal/testfixture stays above everything.
package testdeb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/key"
)

// Epoch is the SourceDateEpoch Build uses when Spec.Build sets none.
var Epoch = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// Spec describes a package for Build.
type Spec struct {
	// Name, Version and Arch ("" is "all") are the control file's first
	// fields.
	Name, Version, Arch string
	// Control holds more control lines (each ending in a newline),
	// written after Maintainer and before Description.
	Control string
	// Description is the Description field's value, continuation lines
	// included; "" is "test".
	Description string
	// Files maps a path below the package's root to its content (mode
	// 0644, directories 0755).
	Files map[string]string
	// Build are the builder's options; a zero SourceDateEpoch is Epoch.
	Build archive.BuildOptions
}

// Build writes s's tree in a temporary directory, builds it into dir under
// the name dpkg-deb would give it (NAME_VERSION_ARCH.deb) and returns the
// .deb's path.
func Build(t testing.TB, dir string, s Spec) string {
	t.Helper()
	arch, desc := s.Arch, s.Description
	if arch == "" {
		arch = "all"
	}
	if desc == "" {
		desc = "test"
	}
	root := t.TempDir()
	files := map[string]string{
		"DEBIAN/control": fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.org>\n%sDescription: %s\n",
			s.Name, s.Version, arch, s.Control, desc),
	}
	for p, c := range s.Files {
		files[p] = c
	}
	testfixture.WriteFiles(t, root, files)
	opts := s.Build
	if opts.SourceDateEpoch.IsZero() {
		opts.SourceDateEpoch = Epoch
	}
	var buf bytes.Buffer
	res, err := archive.Build(context.Background(), root, &buf, opts)
	if err != nil {
		t.Fatalf("build %s: %v", s.Name, err)
	}
	out := filepath.Join(dir, res.FileName())
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// Key generates the key opts describe from a deterministic entropy stream
// (Rand(seed)), so a test gets the same key on every run.
func Key(t testing.TB, seed string, opts key.Options) *key.Key {
	t.Helper()
	opts.Rand = Rand(seed)
	k, err := key.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Rand returns a deterministic entropy stream: SHA-256 in counter mode
// over seed.
func Rand(seed string) *SeededRand { return &SeededRand{seed: seed} }

// SeededRand is the entropy stream Rand returns (an io.Reader).
type SeededRand struct {
	seed string
	n    int
	buf  []byte
}

// Read fills p from the stream; it never fails.
func (r *SeededRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		h := sha256.Sum256([]byte(r.seed + strconv.Itoa(r.n)))
		r.n++
		r.buf = append(r.buf, h[:]...)
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
	return len(p), nil
}
