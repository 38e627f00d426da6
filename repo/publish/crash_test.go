package publish

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/repo/storage"
)

// failingStorage wraps a Dir and fails the n-th write operation (Put or
// Remove or Sync, counted from 1), as a crash or full disk would at that point.
// After the failure every later write fails too: the process is gone.
type failingStorage struct {
	Dir
	n, ops int
}

var errInjected = errors.New("injected failure")

func (f *failingStorage) step() error {
	f.ops++
	if f.n > 0 && f.ops >= f.n {
		return errInjected
	}
	return nil
}

func (f *failingStorage) Put(ctx context.Context, name string, r io.Reader, sum storage.Sum) error {
	if err := f.step(); err != nil {
		// A crash mid-write leaves a partial temporary file behind.
		p := filepath.Join(f.Root, filepath.FromSlash(name))
		_ = os.WriteFile(p+tmpSuffix, []byte("partial"), 0o644)
		return err
	}
	return f.Dir.Put(ctx, name, r, sum)
}

func (f *failingStorage) Sync(ctx context.Context) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Dir.Sync(ctx)
}

func (f *failingStorage) Delete(ctx context.Context, name string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Dir.Delete(ctx, name)
}

// TestCrashAtEveryStep interrupts a republish at each of its writes in
// turn and checks that the repository a client sees is always whole
// (the old generation or the new one, signed, with every file it names),
// and that publishing again afterwards completes it.
func TestCrashAtEveryStep(t *testing.T) {
	in := t.TempDir()
	a := buildDeb(t, in, debSpec{name: "pkg-a", version: "1", arch: "amd64", content: "a"})
	b1 := buildDeb(t, in, debSpec{name: "pkg-b", version: "1", arch: "amd64", content: "b1"})
	b2 := buildDeb(t, in, debSpec{name: "pkg-b", version: "2", arch: "amd64", content: "b2"})
	c := buildDeb(t, in, debSpec{name: "pkg-c", version: "1", arch: "all", content: "c"})
	k := testKey(t)
	sets := [][]string{{a, b1}, {a, b2}, {b2, c}, {c}}
	opts := func(i int) Options {
		o := baseOptions(t, sets[i]...)
		o.Key = k
		o.Date = clock.Add(time.Duration(i) * time.Hour)
		return o
	}
	// A base repository with three generations, so the fourth publish
	// also collects garbage.
	base := t.TempDir()
	for i := 0; i < 3; i++ {
		if _, err := Publish(context.Background(), Dir{Root: base}, opts(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Count the writes of an uninterrupted fourth publish.
	probe := t.TempDir()
	if err := os.CopyFS(probe, os.DirFS(base)); err != nil {
		t.Fatal(err)
	}
	counter := &failingStorage{Dir: Dir{Root: probe}}
	if _, err := Publish(context.Background(), counter, opts(3)); err != nil {
		t.Fatal(err)
	}
	if counter.ops < 10 {
		t.Fatalf("only %d writes counted", counter.ops)
	}
	final := readTree(t, probe)
	for n := 1; n <= counter.ops; n++ {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		_, err := Publish(context.Background(), &failingStorage{Dir: Dir{Root: dir}, n: n}, opts(3))
		if !errors.Is(err, errInjected) {
			t.Fatalf("crash at write %d: err = %v", n, err)
		}
		// InRelease is whole and signed, and so is everything it names.
		// (Release and Release.gpg are two files: a crash between their
		// renames leaves them disagreeing until the next publish; apt reads
		// InRelease first.)
		checkConsistent(t, dir, "stable", k)
		rel, err := os.ReadFile(dir + "/dists/stable/Release")
		if err != nil || !strings.Contains(string(rel), "\nSHA256:\n") {
			t.Fatalf("crash at write %d: Release is not whole (%v)", n, err)
		}
		// Publishing again finishes the job: the same tree as without a crash.
		if _, err := Publish(context.Background(), Dir{Root: dir}, opts(3)); err != nil {
			t.Fatalf("republish after crash at write %d: %v", n, err)
		}
		got := readTree(t, dir)
		for name, data := range final {
			if string(got[name]) != string(data) {
				t.Errorf("crash at write %d, then republish: %s differs", n, name)
			}
		}
		for name := range got {
			if _, ok := final[name]; !ok && !strings.HasSuffix(name, tmpSuffix) {
				t.Errorf("crash at write %d, then republish: extra file %s", n, name)
			}
		}
	}
}
