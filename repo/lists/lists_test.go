package lists

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
			link := filepath.Join(root, state)
			outside := filepath.Join(t.TempDir(), "outside")
			if err := os.Rename(link, outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			want := link + " (-> " + outside + ") leads out of the root"
			if _, err := Load(root, "src1"); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load: %v; want an error saying %s", err, want)
			}
			if all, err := All(root); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("All: %d states, %v; want an error saying %s", len(all), err, want)
			}
		})
	}
}
