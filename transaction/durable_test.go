package transaction

import (
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
			s := newSyncer()
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
	s := newSyncer()
	s.add(filepath.Join(file, "x"))
	s.abandon()
	if err := syncPaths([]string{file, dir}); err != nil {
		t.Errorf("syncPaths: %v", err)
	}
}
