package lists

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/sources"
)

func TestWriteLoadRoundTrip(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, filepath.FromSlash(Dir), "src1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st := &State{
		Version: FormatVersion, SourceID: "src1", Suite: "bookworm",
		Accepted: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		Release:  ReleaseInfo{File: filepath.Join(dir, "InRelease"), SHA256: "ab"},
		Indexes:  []IndexFile{{Component: "main", Arch: "amd64", Name: "main/binary-amd64/Packages.xz", Path: filepath.Join(dir, "main_binary-amd64_Packages.xz")}},
	}
	if err := Write(dir, st); err != nil {
		t.Fatal(err)
	}
	got, err := Load(root, "src1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Release.File != st.Release.File || got.Indexes[0].Path != st.Indexes[0].Path || !got.Accepted.Equal(st.Accepted) {
		t.Fatalf("round trip: got %+v, want %+v", got, st)
	}
	all, err := All(root)
	if err != nil || len(all) != 1 || all[0].SourceID != "src1" {
		t.Fatalf("All = %v, %v; want the one state", all, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, manifest, want string
		noState              bool
	}{
		{name: "missing", noState: true},
		{name: "not json", manifest: "{", want: "state.json"},
		{name: "other format", manifest: `{"version": 99}`, want: "state format 99"},
		{name: "escaping index", manifest: `{"version": 1, "indexes": [{"name": "x", "path": "../../etc/passwd"}]}`, want: "escapes the folder"},
		{name: "escaping release", manifest: `{"version": 1, "release": {"file": "/etc/passwd"}}`, want: "escapes the folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.manifest != "" {
				if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(tc.manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadDir(dir)
			if tc.noState {
				if !errors.Is(err, ErrNoState) {
					t.Fatalf("err = %v, want ErrNoState", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrNoState) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Load(t.TempDir(), "../x"); err == nil {
		t.Fatal("Load accepted a source id with a slash")
	}
}

// FuzzLoadDir feeds arbitrary manifests to LoadDir: it must never panic, and
// every path in a state it accepts must lie inside the source's folder.
func FuzzLoadDir(f *testing.F) {
	f.Add([]byte(`{"version": 1, "source_id": "x", "release": {"file": "InRelease"}, "indexes": [{"name": "main/binary-amd64/Packages.xz", "path": "p.xz"}]}`))
	f.Add([]byte(`{"version": 1, "indexes": [{"path": "../x"}]}`))
	f.Add([]byte(`{"version": 2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, StateFile), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := LoadDir(dir)
		if err != nil {
			return
		}
		paths := []string{st.Release.File, st.Release.Signature}
		for _, ix := range st.Indexes {
			paths = append(paths, ix.Path)
		}
		for _, p := range paths {
			if p != "" && filepath.Dir(p) != dir {
				t.Fatalf("accepted path %q outside %s", p, dir)
			}
		}
	})
}

// TestAttackListsReadOutOfRoot: a root whose lists folder, or one
// source's, is a symbolic link out of it must not make grey read a state
// (and the index files it names) from the outside: Load and All fail
// naming the link (issue 12, item 9: the manifest was read by its path).
func TestAttackListsReadOutOfRoot(t *testing.T) {
	for _, state := range []string{"var/lib/grey", Dir, Dir + "/src1"} {
		t.Run(state, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, filepath.FromSlash(Dir), "src1")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			st := &State{Version: FormatVersion, SourceID: "src1", Suite: "bookworm", Release: ReleaseInfo{File: filepath.Join(dir, "InRelease")}}
			if err := Write(dir, st); err != nil {
				t.Fatal(err)
			}
			want := swapOut(t, root, state)
			if _, err := Load(root, "src1"); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load: %v; want an error saying %s", err, want)
			}
			if all, err := All(root); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("All: %d states, %v; want an error saying %s", len(all), err, want)
			}
		})
	}
}

// TestAttackIndexReadOutOfRoot: the commands that read a source's lists
// (show, policy, an install's index) read its state.json through the
// root, then open the index files it names. A root process that swaps
// the lists folder (or a folder above it) for a link out of the root
// between the two does not make grey read the index files outside: each
// is opened through the root's os.Root too, and refused naming the link.
// Without the swap the file is read.
func TestAttackIndexReadOutOfRoot(t *testing.T) {
	src, err := sources.Parse("deb [signed-by=/k.gpg] http://example.org/debian bookworm main")
	if err != nil {
		t.Fatal(err)
	}
	id := src.ID()
	for _, state := range []string{"", "var/lib/grey", Dir, Dir + "/" + id} {
		t.Run(state, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, filepath.FromSlash(Dir), id)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			const name = "0123-main_binary-amd64_Packages"
			packages := []byte("Package: a\nVersion: 1\nArchitecture: amd64\n")
			if err := os.WriteFile(filepath.Join(dir, name), packages, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(packages)
			st := &State{Version: FormatVersion, SourceID: id, Suite: "bookworm", Release: ReleaseInfo{File: filepath.Join(dir, "InRelease")},
				Indexes: []IndexFile{{Component: "main", Arch: "amd64", Name: "main/binary-amd64/Packages", Path: filepath.Join(dir, name),
					SHA256: hex.EncodeToString(sum[:]), Size: int64(len(packages))}}}
			if err := Write(dir, st); err != nil {
				t.Fatal(err)
			}
			ins, err := IndexInputs(root, []*sources.Source{src}, compress.Decoder{})
			if err != nil || len(ins) != 1 || ins[0].Open == nil {
				t.Fatalf("%d inputs, %v", len(ins), err)
			}
			if state == "" { // no swap: read through the root
				f, err := ins[0].Open()
				if err != nil {
					t.Fatal(err)
				}
				f.Close()
				return
			}
			want := swapOut(t, root, state)
			f, err := ins[0].Open()
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), want) {
				t.Errorf("open %s: %v; want an error saying %s", ins[0].Path, err, want)
			}
			// Building the index cache opens it so.
			x, _, err := index.Load(context.Background(), t.TempDir(), []index.Input{ins[0].Input})
			if err == nil {
				x.Close()
			}
			if !errors.Is(err, rootfs.ErrOutside) || !strings.Contains(err.Error(), want) {
				t.Errorf("index.Load: %v; want an error saying %s", err, want)
			}
		})
	}
}

// swapOut moves the directory rel of root out of the root and leaves a
// link to it in its place, as a writer racing grey would; it returns the
// refusal grey must give.
func swapOut(t *testing.T, root, rel string) string {
	t.Helper()
	link := filepath.Join(root, rel)
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.Rename(link, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	return link + " (-> " + outside + ") leads out of the root"
}
