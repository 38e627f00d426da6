package transaction

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSyncer: paths handed to a syncer are synced by wait; a path that is
// gone is not an error (a staged file staging removed again), one that
// cannot be opened is; a nil syncer (no Sync) does nothing.
func TestSyncer(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, []byte("x"), 0o644))
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"files and directories", []string{file, dir}, ""},
		{"a path that is gone", []string{file, filepath.Join(dir, "gone")}, ""},
		{"a path under a file", []string{filepath.Join(file, "x")}, "not a directory"},
		{"nothing", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSyncer("")
			for _, p := range tc.paths {
				s.add(p)
			}
			err := s.wait()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("wait: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("wait: %v, want an error with %q", err, tc.wantErr)
			}
			// wait may be called again; later paths are ignored.
			s.add(filepath.Join(file, "y"))
			if err2 := s.wait(); (err2 == nil) != (err == nil) {
				t.Errorf("second wait: %v, first: %v", err2, err)
			}
		})
	}
	var none *syncer
	none.add(file)
	none.abandon()
	if err := none.wait(); err != nil {
		t.Errorf("nil syncer: %v", err)
	}
	s := newSyncer("")
	s.add(filepath.Join(file, "x"))
	s.abandon()
	if err := syncPaths([]string{file, dir}); err != nil {
		t.Errorf("syncPaths: %v", err)
	}
}

// TestSyncfsSyncer: in syncfs mode the syncer queues nothing and syncs the
// file system once at wait; a root that cannot be opened is an error.
func TestSyncfsSyncer(t *testing.T) {
	dir := t.TempDir()
	s := newSyncer(dir)
	s.add(filepath.Join(dir, "whatever"))
	if len(s.queue) != 0 {
		t.Fatalf("syncfs mode queued %v", s.queue)
	}
	if err := s.wait(); err != nil {
		t.Fatalf("wait: %v", err)
	}
	bad := newSyncer(filepath.Join(dir, "missing"))
	if err := bad.wait(); err == nil || !strings.Contains(err.Error(), "syncfs") {
		t.Fatalf("wait on a missing root: %v", err)
	}
	gone := newSyncer(filepath.Join(dir, "missing"))
	gone.abandon() // a failed transaction does not sync
	if err := gone.wait(); err != nil {
		t.Fatalf("wait after abandon: %v", err)
	}
}

func TestUseSyncfs(t *testing.T) {
	meminfo := func(dirty, writeback string) []byte {
		return []byte("MemTotal:       24684136 kB\nDirty:          " + dirty + "\nWriteback:      " + writeback + "\nAnonPages:       1 kB\n")
	}
	for _, tc := range []struct {
		name string
		in   []byte
		err  error
		want bool
	}{
		{"quiet", meminfo("1024 kB", "0 kB"), nil, true},
		{"at the limit", meminfo("65536 kB", "0 kB"), nil, true},
		{"busy", meminfo("60000 kB", "8000 kB"), nil, false},
		{"no writeback line", []byte("Dirty: 1 kB\n"), nil, false},
		{"odd unit", meminfo("1 MB", "0 kB"), nil, false},
		{"garbage", meminfo("x kB", "0 kB"), nil, false},
		{"unreadable", nil, os.ErrPermission, false},
	} {
		if got := useSyncfs(tc.in, tc.err); got != tc.want {
			t.Errorf("%s: useSyncfs = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSyncModes runs an install, an upgrade and a removal with each way of
// making files durable forced: the result is the same root.
func TestSyncModes(t *testing.T) {
	dir := t.TempDir()
	files := func(v string) []tentry {
		return []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/sm/", typ: 'd'},
			{name: "./usr/share/sm/a", body: "a" + v + "\n"}, {name: "./usr/share/sm/only-" + v, body: v + "\n"}}
	}
	v1 := tpkg{name: "sm", version: "1", files: files("1")}.build(t, dir)
	v2 := tpkg{name: "sm", version: "2", files: files("2")}.build(t, dir)
	var hashes []string
	for _, mode := range []syncMode{syncModeFsync, syncModeSyncfs, syncModeAuto} {
		root := t.TempDir()
		r := openRoot(t, root)
		for i, plan := range []Plan{{Install: []Install{{Path: v1}}}, {Install: []Install{{Path: v2}}}} {
			if _, err := Apply(context.Background(), r.DB, plan, Options{Root: root, NoScripts: true, Sync: true, syncMode: mode}); err != nil {
				t.Fatalf("mode %d, step %d: %v", mode, i, err)
			}
		}
		if got := readFile(t, filepath.Join(root, "usr/share/sm/a")); got != "a2\n" {
			t.Errorf("mode %d: a = %q", mode, got)
		}
		if _, err := os.Lstat(filepath.Join(root, "usr/share/sm/only-1")); err == nil {
			t.Errorf("mode %d: only-1 survived the upgrade", mode)
		}
		if probs, err := Verify(context.Background(), r.DB, root, nil); err != nil || len(probs) != 0 {
			t.Errorf("mode %d: verify %v %v", mode, probs, err)
		}
		hashes = append(hashes, treeHash(t, filepath.Join(root, "usr")))
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Errorf("the modes left different trees: %v", hashes)
	}
}
