package pkgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/internal/rootfs"
)

// LockPath is where the root lock lives, relative to the root.
const LockPath = "var/lib/grey/lock"

// LockedError says another process holds the root's lock.
type LockedError struct {
	Path string
	// PID is the holder's process id as it wrote it in the lock file; 0
	// when it could not be read.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is locked by process %d", e.Path, e.PID)
	}
	return fmt.Sprintf("%s is locked by another process", e.Path)
}

// LockOptions says how to wait for a busy lock.
type LockOptions struct {
	// NoWait fails at once with a *LockedError instead of waiting.
	NoWait bool
	// Waiting is called once, when the lock is busy and the caller will
	// wait, with the holder's error (naming its pid), so a CLI can say why
	// it pauses.
	Waiting func(*LockedError)
	// Poll is the retry interval while waiting; 0 means 100ms.
	Poll time.Duration
}

// Lock is a held root lock: an flock(2) on ROOT/var/lib/grey/lock, so it is
// released by the kernel if the holder dies. The holder's pid is read from
// /proc/locks, not written into the file.
type Lock struct {
	f *os.File
}

// LockRoot takes the exclusive lock of root, so that no two grey processes
// change one root at once. It waits until the lock is free or ctx ends,
// unless opts.NoWait.
func LockRoot(ctx context.Context, root string, opts LockOptions) (*Lock, error) {
	path := filepath.Join(root, LockPath)
	r, err := makeRoot(root)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	defer r.Close()
	// Through the root (inroot.go): a var/lib/grey leading out of it is
	// refused, not locked.
	f, err := openStateFile(r, LockPath, os.O_RDWR|os.O_CREATE, 0o644, true)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	flock := func() error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
	busy := func(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EINTR) }
	if err := waitForLock(ctx, f, path, opts, flock, busy, holderPID); err != nil {
		return nil, err
	}
	return &Lock{f: f}, nil
}

// holderPID finds the process holding an flock on f's inode in
// /proc/locks ("1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF"), so the
// lock file itself is never written and a root stays byte-for-byte the
// same across runs that change nothing.
func holderPID(f *os.File) int { return procLocksHolder(f, "FLOCK") }

// procLocksHolder finds the pid of a lock of the kind ("FLOCK", "OFDLCK",
// "POSIX") on f's inode in /proc/locks.
func procLocksHolder(f *os.File, kind string) int {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 6 || fs[1] != kind || fs[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fs[4]); err == nil {
			return pid
		}
	}
	return 0
}

// Unlock releases the lock. The file stays, so its inode is stable for the
// next holder.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// The files dpkg locks, relative to the root: apt and every frontend
// take lock-frontend first, then lock; dpkg takes lock (and lock-frontend
// unless its frontend holds it and says so in DPKG_FRONTEND_LOCKED).
const (
	DpkgFrontendLockPath = "var/lib/dpkg/lock-frontend"
	DpkgLockPath         = "var/lib/dpkg/lock"
)

// DpkgLock holds dpkg's frontend lock and database lock, as apt does
// while it runs: a write lock on the whole of each file. The locks are
// open file description locks (F_OFD_SETLK), which conflict with the
// classic fcntl locks apt and dpkg take, belong to this descriptor alone
// (closing another descriptor of the file elsewhere in the process does not
// drop them), and are not inherited by maintainer scripts (close-on-exec).
type DpkgLock struct {
	files []*os.File
}

// LockDpkg takes dpkg's lock-frontend and then lock in root, waiting for
// a holder (apt, dpkg, another grey) as opts says. The *LockedError of a
// busy lock names the file and the holder's pid. A root without a dpkg
// database (no var/lib/dpkg) needs no lock: a nil lock and no error.
func LockDpkg(ctx context.Context, root string, opts LockOptions) (*DpkgLock, error) {
	r, err := openRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no root, so no dpkg database to lock
	}
	if err != nil {
		return nil, fmt.Errorf("lock dpkg's database: %w", err)
	}
	defer r.Close()
	// Through the root (inroot.go): a var/lib/dpkg, lock or lock-frontend
	// leading out of it is refused, not locked (nor created).
	if ok, err := stateDirExists(r, DpkgAdminDir); err != nil || !ok {
		if err != nil {
			return nil, fmt.Errorf("lock dpkg's database: %w", err)
		}
		return nil, nil
	}
	l := &DpkgLock{}
	for _, rel := range []string{DpkgFrontendLockPath, DpkgLockPath} {
		f, err := fcntlLock(ctx, r, rel, opts)
		if err != nil {
			_ = l.Unlock()
			return nil, err
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

func fcntlLock(ctx context.Context, r *os.Root, rel string, opts LockOptions) (*os.File, error) {
	path := rootfs.Host(r, rel)
	// apt creates its lock files 0640, dpkg 0660; either is fine to open.
	f, err := openStateFile(r, rel, os.O_RDWR|os.O_CREATE, 0o640, false)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	setlk := func() error {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	}
	busy := func(err error) bool {
		return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINTR)
	}
	if err := waitForLock(ctx, f, path, opts, setlk, busy, fcntlHolder); err != nil {
		return nil, err
	}
	return f, nil
}

// waitForLock takes the lock on f (at path) with try, a non-blocking
// attempt whose error busy says is "held by another": it retries every
// opts.Poll until the lock is taken or ctx ends, or fails at once with a
// *LockedError naming holder(f) when opts.NoWait. f is closed on failure.
func waitForLock(ctx context.Context, f *os.File, path string, opts LockOptions, try func() error, busy func(error) bool, holder func(*os.File) int) error {
	poll := opts.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	told := false
	for {
		err := try()
		if err == nil {
			return nil
		}
		if !busy(err) {
			f.Close()
			return fmt.Errorf("lock %s: %w", path, err)
		}
		held := &LockedError{Path: path, PID: holder(f)}
		if opts.NoWait {
			f.Close()
			return held
		}
		if !told && opts.Waiting != nil {
			opts.Waiting(held)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// fcntlHolder asks the kernel who holds a conflicting lock on f: F_GETLK
// gives the pid of a classic fcntl lock (apt's, dpkg's); an open file
// description lock (another grey) reports -1, and /proc/locks names it.
func fcntlHolder(f *os.File) int {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err == nil && lk.Type != unix.F_UNLCK && lk.Pid > 0 {
		return int(lk.Pid)
	}
	return procLocksHolder(f, "OFDLCK")
}

// Unlock releases both locks (lock first, then lock-frontend, as dpkg
// and apt do).
func (l *DpkgLock) Unlock() error {
	if l == nil {
		return nil
	}
	var first error
	for i := len(l.files) - 1; i >= 0; i-- {
		if err := l.files[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	l.files = nil
	return first
}
