package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/storage"
)

// fakeDebs writes files whose "control" is their own content, read back by
// textControl, so tests can give any control file without building a .deb.
func fakeDebs(t testing.TB, controls ...string) []string {
	dir := t.TempDir()
	var out []string
	for i, c := range controls {
		p := filepath.Join(dir, fmt.Sprintf("%02d.deb", i))
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func textControl(r io.Reader, name string) (*control.Stanza, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return control.ParseOne(b)
}

func ctl(name, ver, arch string, extra ...string) string {
	return fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n%s", name, ver, arch, strings.Join(extra, ""))
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name     string
		controls []string
		want     any // an error value for errors.Is, or a pointer for errors.As
		text     string
	}{
		{"wrong architecture", []string{ctl("foo", "1", "arm64")}, ErrWrongArchitecture, "arm64"},
		{"traversal in name", []string{ctl("../../etc", "1", "amd64")}, ErrBadControl, "Package"},
		{"slash in source", []string{ctl("foo", "1", "amd64", "Source: a/../../b\n")}, ErrBadControl, "Source"},
		{"slash in version", []string{ctl("foo", "1/2", "amd64")}, ErrBadControl, "version"},
		{"bad arch", []string{ctl("foo", "1", "amd/64")}, ErrBadControl, "Architecture"},
		{"no version", []string{"Package: foo\nArchitecture: amd64\n"}, ErrBadControl, "version"},
		{"two different files, one version", []string{ctl("foo", "1", "amd64", "X-A: 1\n"), ctl("foo", "1", "amd64", "X-A: 2\n")}, new(*DuplicateError), "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions(t, fakeDebs(t, tt.controls...)...)
			opts.ReadControl = textControl
			out := t.TempDir()
			_, err := Publish(context.Background(), Dir{Root: out}, opts)
			if err == nil {
				t.Fatal("no error")
			}
			switch w := tt.want.(type) {
			case error:
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want %v", err, w)
				}
			case **DuplicateError:
				if !errors.As(err, w) {
					t.Errorf("err = %v, want a DuplicateError", err)
				}
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err %q does not mention %q", err, tt.text)
			}
			// Nothing was written for a refused input.
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("refused publish wrote %d entries", len(entries))
			}
		})
	}
}

func TestIdenticalDuplicatesAreOne(t *testing.T) {
	c := ctl("foo", "1", "amd64")
	opts := baseOptions(t, fakeDebs(t, c, c)...)
	opts.ReadControl = textControl
	res, err := Publish(context.Background(), Dir{Root: t.TempDir()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Packages != 1 {
		t.Errorf("%d packages, want 1", res.Packages)
	}
}

func TestPoolConflict(t *testing.T) {
	out := t.TempDir()
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64", "X-Build: 1\n"))...)
	opts.ReadControl = textControl
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, out)
	// The same version rebuilt: refused, and the repository is untouched.
	opts.Components[0].Inputs = fakeDebs(t, ctl("foo", "1", "amd64", "X-Build: 2\n"))
	_, err := Publish(context.Background(), Dir{Root: out}, opts)
	var pc *PoolConflictError
	if !errors.As(err, &pc) || pc.Pool != "pool/main/f/foo/foo_1_amd64.deb" {
		t.Fatalf("err = %v, want PoolConflictError", err)
	}
	after := readTree(t, out)
	for n, d := range before {
		if !bytes.Equal(d, after[n]) {
			t.Errorf("%s changed by a refused publish", n)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	good := func() Options {
		o := baseOptions(t)
		o.ReadControl = textControl
		return o
	}
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"no key", func(o *Options) { o.Key = nil }},
		{"suite with slash", func(o *Options) { o.Suite = "a/b" }},
		{"dot suite", func(o *Options) { o.Suite = ".." }},
		{"no component", func(o *Options) { o.Components = nil }},
		{"component twice", func(o *Options) { o.Components = append(o.Components, o.Components[0]) }},
		{"bad component", func(o *Options) { o.Components[0].Name = "../x" }},
		{"no arch", func(o *Options) { o.Architectures = nil }},
		{"arch all", func(o *Options) { o.Architectures = []string{"all"} }},
		{"no date", func(o *Options) { o.Date = time.Time{} }},
		{"keep 1", func(o *Options) { o.Keep = 1 }},
		{"multi-line origin", func(o *Options) { o.Origin = "a\nb" }},
		{"negative validity", func(o *Options) { o.ValidFor = -1 }},
	}
	for _, tt := range tests {
		o := good()
		tt.edit(&o)
		if _, err := Publish(context.Background(), Dir{Root: t.TempDir()}, o); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestLocked(t *testing.T) {
	out := t.TempDir()
	unlock, err := Dir{Root: out}.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64"))...)
	opts.ReadControl = textControl
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); !errors.Is(err, ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
}

func TestBadState(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, stateName), []byte(`{"version": 1, "generations": [{"suite":"s","files":["../etc/passwd"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64"))...)
	opts.ReadControl = textControl
	var se *StateError
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); !errors.As(err, &se) {
		t.Errorf("err = %v, want StateError", err)
	}
}

func TestCancelled(t *testing.T) {
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64"))...)
	opts.ReadControl = textControl
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := Publish(ctx, Dir{Root: out}, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestDirRejectsEscapes(t *testing.T) {
	d := Dir{Root: t.TempDir()}
	for _, name := range []string{"../x", "/etc/passwd", "a/../../b", "", "."} {
		if err := d.Put(context.Background(), name, strings.NewReader("x"), storage.Sum{}); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
		if _, err := d.Open(context.Background(), name); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want a path error", name, err)
		}
	}
}

// FuzzControl feeds arbitrary control files to the checks that turn a
// .deb's fields into a pool path and a Packages stanza: whatever is
// accepted must stay inside the pool and write back as a valid stanza.
func FuzzControl(f *testing.F) {
	f.Add([]byte(ctl("hello", "2.10-3", "amd64", "Source: hello-src (1)\nDescription: x\n y\n")))
	f.Add([]byte(ctl("libfoo1", "1:2.0~rc1+dfsg-1", "all", "Filename: ../../x\nSHA256: 00\n")))
	f.Add([]byte(ctl("a..b", "1..2", "amd64")))
	// Real control files from the fixture, when it is there.
	fixture := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared/testdata/debian-bookworm/debian/pool/main")
	debs, _ := filepath.Glob(filepath.Join(fixture, "*/*/*.deb"))
	for _, deb := range debs {
		if fh, err := os.Open(deb); err == nil {
			if st, err := archiveControl(fh, deb); err == nil {
				b, _ := control.AppendStanza(nil, st)
				f.Add(b)
			}
			fh.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := control.ParseOne(data)
		if err != nil {
			return
		}
		p := &pkg{component: "main", size: 1, md5: "m", sha1: "s", sha256: "h"}
		if err := p.fromControl(st, []string{"amd64"}); err != nil {
			return
		}
		if !fs.ValidPath(p.pool) || !strings.HasPrefix(p.pool, "pool/main/") || strings.Contains(p.pool, "/../") || strings.Count(p.pool, "/") != 4 {
			t.Fatalf("control %q gives pool path %q", data, p.pool)
		}
		if _, err := renderPackages([]*pkg{p}); err != nil {
			t.Fatalf("accepted stanza does not render: %v", err)
		}
		if p.stanza.Get("Filename") != p.pool {
			t.Fatalf("Filename %q, pool %q", p.stanza.Get("Filename"), p.pool)
		}
	})
}

// FuzzState feeds arbitrary state files to the loader.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"version":1,"generations":[{"suite":"stable","date":"x","release_sha256":"00","files":["a","pool/main/f/foo/foo_1_amd64.deb"]}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Dir{Root: t.TempDir()}
		if err := d.Put(context.Background(), stateName, bytes.NewReader(data), storage.Sum{}); err != nil {
			t.Fatal(err)
		}
		s, err := loadState(context.Background(), d)
		if err != nil {
			return
		}
		for _, g := range s.Generations {
			for _, f := range g.Files {
				if !fs.ValidPath(f) || f == "." {
					t.Fatalf("accepted path %q", f)
				}
			}
		}
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	out := t.TempDir()
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64"))...)
	opts.ReadControl = textControl
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	before := readTree(t, out)
	opts.Components[0].Inputs = fakeDebs(t, ctl("bar", "1", "amd64"))
	opts.Date = opts.Date.Add(time.Hour)
	res, err := Publish(context.Background(), DryRun(Dir{Root: out}), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 || len(res.Removed) != 1 {
		t.Errorf("dry run reports added %v removed %v", res.Added, res.Removed)
	}
	after := readTree(t, out)
	if len(after) != len(before) {
		t.Errorf("dry run changed the file count %d -> %d", len(before), len(after))
	}
	for n, d := range before {
		if !bytes.Equal(d, after[n]) {
			t.Errorf("dry run changed %s", n)
		}
	}
	// A dry run into a directory that does not exist does not create it.
	fresh := filepath.Join(t.TempDir(), "new")
	if _, err := Publish(context.Background(), DryRun(Dir{Root: fresh}), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run created %s: %v", fresh, err)
	}
}

// TestSuitesSharePool: a pool file stays while any kept generation of any
// suite in the repository uses it.
func TestSuitesSharePool(t *testing.T) {
	out := t.TempDir()
	x := fakeDebs(t, ctl("shared", "1", "amd64"))
	y := fakeDebs(t, ctl("other", "1", "amd64"))
	pub := func(suite string, hour int, in []string) {
		t.Helper()
		opts := baseOptions(t, in...)
		opts.ReadControl = textControl
		opts.Suite, opts.Codename = suite, suite
		opts.Date = opts.Date.Add(time.Duration(hour) * time.Hour)
		if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
			t.Fatal(err)
		}
	}
	pub("a", 0, x)
	pub("b", 1, x)
	for h := 2; h < 7; h++ {
		pub("a", h, y) // a drops "shared" and publishes past the kept window
	}
	if _, err := os.Stat(filepath.Join(out, "pool/main/s/shared/shared_1_amd64.deb")); err != nil {
		t.Errorf("pool file still used by suite b was deleted: %v", err)
	}
	checkConsistent(t, out, "a", baseOptions(t).Key)
	checkConsistent(t, out, "b", baseOptions(t).Key)
	pub("b", 7, y)
	for h := 8; h < 11; h++ {
		pub("b", h, y)
	}
	if _, err := os.Stat(filepath.Join(out, "pool/main/s/shared/shared_1_amd64.deb")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pool file no kept generation uses is still there: %v", err)
	}
}

// TestStrayPoolFileReplaced: a file at a pool path that no generation
// records (what a crash leaves before the state is written) is replaced.
func TestStrayPoolFileReplaced(t *testing.T) {
	out := t.TempDir()
	stray := filepath.Join(out, "pool/main/f/foo/foo_1_amd64.deb")
	if err := os.MkdirAll(filepath.Dir(stray), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := baseOptions(t, fakeDebs(t, ctl("foo", "1", "amd64"))...)
	opts.ReadControl = textControl
	if _, err := Publish(context.Background(), Dir{Root: out}, opts); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, out, "stable", opts.Key)
}
