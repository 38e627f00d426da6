package pkgdb

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the test binary act as apt or dpkg holding a lock: with
// GREY_TEST_FCNTL_LOCK=path it takes a classic fcntl write lock (F_SETLK,
// as apt's GetLock and dpkg's file_lock do) on path, prints "locked" (or
// "busy" when it cannot), and holds it until its stdin closes.
func TestMain(m *testing.M) {
	if p := os.Getenv("GREY_TEST_FCNTL_LOCK"); p != "" {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			os.Exit(3)
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			os.Stdout.WriteString("busy\n")
			os.Exit(0)
		}
		os.Stdout.WriteString("locked\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fcntlHolder starts a process that takes a classic fcntl lock on path and
// returns its first line ("locked" or "busy") and a function that ends it.
func startFcntlHolder(t *testing.T, path string) (string, *exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GREY_TEST_FCNTL_LOCK="+path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	stop := func() { in.Close(); _ = cmd.Wait() }
	t.Cleanup(stop)
	return strings.TrimSpace(line), cmd, stop
}

func TestDpkgLockBothWays(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{DpkgFrontendLockPath, DpkgLockPath} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			path := filepath.Join(root, rel)
			// apt (or dpkg) holds it: --no-wait fails at once naming the file
			// and the holder.
			line, holder, stop := startFcntlHolder(t, path)
			if line != "locked" {
				t.Fatalf("holder: %q", line)
			}
			_, err := LockDpkg(context.Background(), root, LockOptions{NoWait: true})
			var le *LockedError
			if !errors.As(err, &le) || le.Path != path || le.PID != holder.Process.Pid {
				t.Fatalf("no-wait: %v, want a LockedError naming %s and pid %d", err, path, holder.Process.Pid)
			}
			// Without --no-wait grey waits, says so once, and goes on when the
			// holder lets go.
			told := 0
			go func() { time.Sleep(200 * time.Millisecond); stop() }()
			l, err := LockDpkg(context.Background(), root, LockOptions{Poll: 10 * time.Millisecond, Waiting: func(*LockedError) { told++ }})
			if err != nil || told != 1 {
				t.Fatalf("wait: %v, told %d times", err, told)
			}
			// grey holds it: apt's lock attempt fails.
			if line, _, _ := startFcntlHolder(t, path); line != "busy" {
				t.Errorf("with grey holding %s, another process's fcntl lock got %q", rel, line)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
			if line, _, _ := startFcntlHolder(t, path); line != "locked" {
				t.Errorf("after grey let go of %s: %q", rel, line)
			}
		})
	}
	// A root without dpkg's database has nothing to lock.
	if l, err := LockDpkg(context.Background(), t.TempDir(), LockOptions{NoWait: true}); l != nil || err != nil {
		t.Errorf("no dpkg database: %v %v", l, err)
	}
	// ctx ends the wait.
	_, _, _ = startFcntlHolder(t, filepath.Join(root, DpkgLockPath))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := LockDpkg(ctx, root, LockOptions{Poll: 10 * time.Millisecond}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
}
