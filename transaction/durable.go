package transaction

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// syncInFlight is how many fsync calls a syncer keeps running at once.
// Each mostly waits: for writeback that sync_file_range started when the
// file was written, then for the disk's cache flush. More in flight was
// meant to let the block layer merge those flushes, but on this machine's
// virtio disk it does not: the flush count equals the fsync count (about
// 7,100 for the 118-package closure) with 8, 32 or 128 in flight, and the
// wall time is the same within noise. So 8: fewer threads blocked in the
// kernel.
const syncInFlight = 8

// syncer fsyncs paths in the background, syncInFlight at a time, as they
// are handed to it. Staging hands it each package's files once the
// package is staged, so making the transaction durable overlaps decoding
// the packages that follow; the commit then only waits for it to drain
// (wait) before the first rename. A nil *syncer does nothing.
type syncer struct {
	// fsRoot, when set, switches the syncer to one syncfs(2) of the file
	// system holding fsRoot at wait, instead of an fsync per path (see
	// useSyncfs).
	fsRoot string
	mu     sync.Mutex
	cond   sync.Cond
	queue  []string
	closed bool
	synced bool // the syncfs of fsRoot ran
	err    error
	wg     sync.WaitGroup
}

// newSyncer starts a syncer's goroutines; wait ends them. With fsRoot set
// it starts none: wait syncs the whole file system once.
func newSyncer(fsRoot string) *syncer {
	s := &syncer{fsRoot: fsRoot}
	s.cond.L = &s.mu
	if fsRoot != "" {
		return s
	}
	for range syncInFlight {
		s.wg.Add(1)
		go s.run()
	}
	return s
}

// add queues p for an fsync. It never blocks on the disk.
func (s *syncer) add(p string) {
	if s == nil {
		return
	}
	if s.fsRoot != "" {
		return // wait's syncfs covers it
	}
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, p)
		s.cond.Signal()
	}
	s.mu.Unlock()
}

// wait returns once every path added so far is synced (or one failed),
// with the first error; the syncer takes no more paths after it. It may
// be called again.
func (s *syncer) wait() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fsRoot != "" && s.err == nil && !s.synced {
		s.synced = true
		s.err = syncFS(s.fsRoot)
	}
	return s.err
}

// abandon drops the paths not yet synced and waits for those in flight:
// the transaction failed, and its staged files are about to be removed.
func (s *syncer) abandon() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.queue = nil
	s.synced = true // nothing to make durable
	s.mu.Unlock()
	_ = s.wait()
}

func (s *syncer) run() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		// Oldest first: its writeback started longest ago.
		p := s.queue[0]
		s.queue = s.queue[1:]
		failed := s.err != nil
		s.mu.Unlock()
		if failed {
			continue // the transaction fails anyway: drain without syncing
		}
		if err := syncPath(p); err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	}
}

// syncPath fsyncs one file or directory. A path that is gone is not an
// error: a staged file a later package won (and staging removed), or a
// directory emptied and removed later in the commit, whose parent is
// synced too.
//
// The descriptor is opened without os.File: os.Open would try (and fail)
// to add the regular file to the runtime's poller, four fcntl and one
// epoll_ctl per file, around each fsync.
func syncPath(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Fsync(fd)
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// syncPaths fsyncs files and directories, syncInFlight at a time. Only
// the transaction's own paths are synced, so the cost does not depend on
// what other processes have written to the same file system, as
// syncfs's does.
func syncPaths(paths []string) error {
	s := newSyncer("")
	for _, p := range paths {
		s.add(p)
	}
	return s.wait()
}

// syncFS makes the whole file system holding path durable: every dirty
// page, every inode, one cache flush (syncfs(2)).
func syncFS(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}

// syncfsMaxDirty is how much dirty or under-writeback page cache the whole
// system may hold, when a transaction starts, for it to make its files
// durable with syncfs rather than an fsync per file.
//
// Why two ways: an fsync per file costs one disk cache flush each (7,100
// for the 118-package closure, about a second here, even overlapped with
// decoding), while one syncfs after staging costs one flush, the writeback
// having been started file by file as each was written. But syncfs also
// waits for everything else written to the file system and not yet on
// disk, which on a busy machine can be minutes (42 s once here). The page
// cache's dirty total at the start is a cheap, fair predictor: when other
// processes have little unwritten, syncfs waits for little more than the
// transaction's own data. (OSTree commits with syncfs for the same reason.)
const syncfsMaxDirty = 64 << 20

// useSyncfs decides from the contents of /proc/meminfo; anything it cannot
// read means an fsync per file, the way that never waits for others.
func useSyncfs(meminfo []byte, err error) bool {
	if err != nil {
		return false
	}
	var total int64
	found := 0
	for _, line := range bytes.Split(meminfo, []byte("\n")) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || !(string(name) == "Dirty" || string(name) == "Writeback") {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return false
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return false
		}
		total += kb << 10
		found++
	}
	return found == 2 && total <= syncfsMaxDirty
}

// syncAll makes paths durable: fsyncs, or the file system's syncfs when
// the transaction chose it.
func (s *stager) syncAll(paths []string) error {
	if s.sync != nil && s.sync.fsRoot != "" {
		return syncFS(s.sync.fsRoot)
	}
	return syncPaths(paths)
}
