package transaction

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/pkgdb"
)

// stagePrefix starts the name of every staged file, so that a crash
// leaves files anyone (and issue 6's recovery) can recognise.
const stagePrefix = ".grey-new-"

// copyBufSize is the per-worker copy buffer: large enough that a write
// system call is not per 32 KiB, small enough that memory stays flat.
const copyBufSize = 256 << 10

// staged is one data.tar entry of a package, written (or created, for a
// directory) in the root but not yet in place.
type staged struct {
	rel    string // "usr/bin/hello"
	target string // host path the entry ends up at
	tmp    string // host path of the staged file; "" for directories
	file   pkgdb.File
	// keepLocal: a locally changed conffile stays; tmp goes to
	// target+".dpkg-new" instead of target.
	keepLocal bool
	// lost: another package of the transaction, which Replaces this one,
	// ships the same path and wins it.
	lost bool
	// shared: another instance of this Multi-Arch: same package has the
	// same file (installed, or in the transaction); both own it.
	shared bool
}

// work is one package to install, from its .deb to its new database record.
type work struct {
	item   Install
	ctl    *archive.Control
	pkg    *deb.Package
	old    *pkgdb.Package // installed record, nil when new
	ents   []*staged
	byPath map[string]*staged // rel -> entry
	md5s   map[string]string  // "usr/bin/hello" -> md5 for info/PKG.md5sums
	confs  []pkgdb.Conffile
	notes  []ConffileNote
	bytes  int64
	// dataCap bounds what data.tar may decompress to (space.go).
	dataCap int64
	// failed: a maintainer script of the package failed; t.final holds
	// the state it is left in (lifecycle.go).
	failed bool
	// k is the package's record key (recordKey): its name, or
	// "name:arch" for a foreign architecture's instance.
	k string
}

func (w *work) name() string { return w.pkg.Name }

// stager holds what staging workers share.
type stager struct {
	root      string
	opts      *Options
	installed map[string]*pkgdb.Package // by record key; read-only while staging
	// native is the root's native architecture (recordKey).
	native string
	// euid and egid are the process's, read once.
	euid, egid int

	mu      sync.Mutex
	created []string // directories created by staging, in creation order
	tmps    []string // staged files, for cleanup
	// log records created and tmps as they grow, so recovery can clean
	// up after a crash during staging (journal.go).
	log *os.File
	// bufs holds the copy buffers workers hand to their sinks.
	bufs sync.Pool
	// roots finds contents a rollback needs in the root (rootContents),
	// built from installed on first use.
	roots     *rootContents
	rootsOnce sync.Once
	// sync, with Options.Sync, fsyncs each package's staged files once
	// the package is staged (durable.go); nil otherwise.
	sync *syncer
	// files is what dpkg consults for every file: the root's user and
	// group names, statoverrides and diversions (dpkgfiles.go); nil
	// knows none.
	files *dpkgFiles
	// dirs caches directories known to exist: relative path -> host path.
	// Only this process changes the root while it holds the lock, so an
	// entry stays true for the transaction and saves the per-component
	// lstat walk of resolving every file's parent again.
	dirs map[string]dirEntry
	// state holds grey's and dpkg's state directories, resolved: no
	// entry may be written there (statedirs.go).
	state stateDirs
	// rfs is the root opened as an os.Root: every access to the root
	// goes through it (inroot.go).
	rfs *rootFS
	// free is the root file system's free space when the transaction
	// started (0: unknown); it bounds what a package may write (space.go).
	free int64
	// faults is the transaction's fault-injection hook (tests only);
	// called with mu held, as workers share it.
	faults *faults
}

// dirEntry is a directory known to exist during staging.
type dirEntry struct {
	host string
	// fresh: staging created it, so nothing but this transaction's
	// staged files is in it and no target needs checking.
	fresh bool
}

// decoder returns the options' Decoder, or the system's by default.
func (s *stager) decoder() compress.Decoder {
	if s.opts.Decoder != nil {
		return *s.opts.Decoder
	}
	return compress.SystemDecoder()
}

func (s *stager) cachedDir(rel string) (dirEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dirs[rel]
	return d, ok
}

func (s *stager) cacheDir(rel string, d dirEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs == nil {
		s.dirs = map[string]dirEntry{}
	}
	s.dirs[rel] = d
}

// willCreate logs the directory dir before it is made: a crash right
// after the mkdir (before its mode is even set) must still find it in
// the staging log, or recovery leaves it behind. A logged directory that
// was never made, or that another worker made first, is harmless:
// recovery removes only empty directories it names.
func (s *stager) willCreate(dir string) {
	s.mu.Lock()
	s.logLocked('d', dir)
	s.mu.Unlock()
}

// noteCreated records a directory staging made (willCreate logged it).
func (s *stager) noteCreated(dir string) {
	s.mu.Lock()
	s.created = append(s.created, dir)
	if s.faults != nil {
		s.faults.at("mkdir")
	}
	s.mu.Unlock()
}

// rootContents returns the index of contents in the root, by SHA256.
func (s *stager) rootContents() *rootContents {
	s.rootsOnce.Do(func() {
		pkgs := make([]*pkgdb.Package, 0, len(s.installed))
		for _, p := range s.installed {
			pkgs = append(pkgs, p)
		}
		s.roots = newRootContents(s.root, pkgs)
		s.roots.rfs = s.rfs
	})
	return s.roots
}

// syncStaged hands w's staged regular files to the syncer. Only whole
// packages: an fsync writes the file's inode-table block and its parent
// directory synchronously (ext4 without a journal), which stalls a
// worker still creating files next to it, and a finished package's
// files are mostly written back already. A hard link shares its
// target's inode, so it needs no sync of its own.
func (s *stager) syncStaged(w *work) {
	if s.sync == nil {
		return
	}
	for _, e := range w.ents {
		if e.tmp != "" && e.file.Type == pkgdb.TypeRegular {
			s.sync.add(e.tmp)
		}
	}
}

func (s *stager) noteTmp(p string) {
	s.mu.Lock()
	s.tmps = append(s.tmps, p)
	s.logLocked('f', p)
	s.mu.Unlock()
}

// unstage removes every staged file and every directory staging created,
// deepest first, returning the root to its state before staging.
func (s *stager) unstage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tmps {
		_ = s.rfs.remove(t, false)
	}
	s.tmps = nil
	dirs := append([]string(nil), s.created...)
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		_ = s.rfs.remove(d, true)
	}
	s.created = nil
	s.dropLogLocked()
}

// resolve returns the host path of rel inside the root: its parent
// directory resolved with chroot semantics (a symlink, even an absolute
// one, never leads outside the root) and the last component as is, so
// that the entry itself is replaced rather than followed.
func (s *stager) resolve(rel string) (string, error) {
	dir, base := path.Split(rel)
	if d, ok := s.cachedDir(path.Clean(dir)); ok && base != "" {
		return filepath.Join(d.host, base), nil
	}
	parent, err := s.rfs.resolve(dir, true)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", rel, s.root, err)
	}
	if base == "" {
		return parent, nil
	}
	return filepath.Join(parent, base), nil
}

// mkdirs makes sure the directory rel exists, creating missing components
// (recorded so a rollback removes them) with mode for the last one and
// 0755 for the others, all owned by root, and returns it.
func (s *stager) mkdirs(rel string, mode fs.FileMode) (dirEntry, error) {
	return s.mkdirsOwned(rel, mode, 0, 0)
}

// mkdirsOwned is mkdirs with the owner of the last component when it is
// created: set before the mode, as dpkg does, so that a setgid directory
// keeps its bit. A directory that exists is left as it is (dpkg does not
// touch an existing directory either). Each component is looked up in its
// parent's resolved host path; one that is a symlink is resolved with
// chroot semantics, so it never leads out of the root.
func (s *stager) mkdirsOwned(rel string, mode fs.FileMode, uid, gid int) (dirEntry, error) {
	if rel == "" || rel == "." {
		return dirEntry{host: s.root}, nil
	}
	if d, ok := s.cachedDir(rel); ok {
		return d, nil
	}
	parent, err := s.mkdirs(path.Dir(rel), 0o755)
	if err != nil {
		return dirEntry{}, err
	}
	p := filepath.Join(parent.host, path.Base(rel))
	for attempt := 0; ; attempt++ {
		fi, err := s.rfs.lstat(p)
		switch {
		case err == nil && fi.Mode&unix.S_IFMT == unix.S_IFDIR:
			d := dirEntry{host: p}
			s.cacheDir(rel, d)
			return d, nil
		case err == nil && fi.Mode&unix.S_IFMT == unix.S_IFLNK:
			r, err := s.rfs.resolve(rel, true)
			if err != nil {
				return dirEntry{}, fmt.Errorf("resolve /%s: %w", rel, err)
			}
			if _, err := s.rfs.dirFD(r); err != nil {
				return dirEntry{}, fmt.Errorf("/%s is a symlink to something that is not a directory", rel)
			}
			d := dirEntry{host: r}
			s.cacheDir(rel, d)
			return d, nil
		case err == nil:
			return dirEntry{}, fmt.Errorf("/%s exists and is not a directory", rel)
		case !errors.Is(err, fs.ErrNotExist):
			return dirEntry{}, fmt.Errorf("stat /%s: %w", rel, err)
		}
		if err := s.checkStateHost(rel, p, true); err != nil {
			return dirEntry{}, err
		}
		s.willCreate(p)
		if err := s.rfs.mkdir(p); err != nil {
			if errors.Is(err, fs.ErrExist) && attempt == 0 {
				continue // another worker made it: look again
			}
			return dirEntry{}, fmt.Errorf("mkdir /%s: %w", rel, err)
		}
		s.noteCreated(p)
		s.chown(p, uid, gid, false)
		if err := s.rfs.chmod(p, mode); err != nil {
			return dirEntry{}, fmt.Errorf("chmod /%s: %w", rel, err)
		}
		d := dirEntry{host: p, fresh: true}
		s.cacheDir(rel, d)
		return d, nil
	}
}

// unixMode converts an archive mode (permission bits plus fs.ModeSetuid,
// fs.ModeSetgid, fs.ModeSticky) to what os.Chmod expects; they are the same
// representation, but only those bits are kept.
func unixMode(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// modeWord converts to the Unix st_mode permission word stored in pkgdb.
func modeWord(m fs.FileMode) uint32 {
	w := uint32(m & fs.ModePerm)
	if m&fs.ModeSetuid != 0 {
		w |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		w |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		w |= 0o1000
	}
	return w
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return stagePrefix + hex.EncodeToString(b[:])
}

// stagePackage streams w's data.tar into the root. It opens the .deb itself
// so that each worker holds only its own decoder and buffer.
func (s *stager) stagePackage(ctx context.Context, w *work) error {
	if w.item.Snapshot != nil {
		return s.stageSnapshot(ctx, w) // rollback.go
	}
	f, err := s.rfs.openDeb(w.item.Path)
	if err != nil {
		return err // names the file
	}
	defer f.Close()
	if err := checkFile(f, w.item); err != nil {
		return err
	}
	r := archive.NewReader(f, archive.ReadOptions{Name: w.item.Path, Decoder: s.decoder(), MaxControlSize: controlCap(s.free)})
	if w.ctl, err = r.Control(); err != nil {
		return err
	}
	if w.pkg, err = deb.FromStanza(w.ctl.Fields); err != nil {
		return fmt.Errorf("%s: control: %w", w.item.Path, err)
	}
	w.k = recordKey(w.pkg.Name, w.pkg.Architecture, s.native)
	w.old = oldInstance(s.installed, w.pkg, w.k)
	w.dataCap = dataCap(w.pkg.InstalledSize, s.free) // space.go
	r.SetMaxDataSize(w.dataCap)
	dr, err := r.Data()
	if err != nil {
		return err
	}
	defer dr.Close()
	k := newSink(&s.bufs)
	defer k.stop()

	conffile := make(map[string]bool, len(w.ctl.Conffiles))
	for _, c := range w.ctl.Conffiles {
		conffile[strings.TrimPrefix(path.Clean(c.Path), "/")] = true
	}
	symlinks := map[string]string{} // shipped symlinks of this package
	w.byPath = map[string]*staged{}
	w.md5s = map[string]string{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := dr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rel, err := e.RelPath()
		if err != nil {
			return fmt.Errorf("%s: %w", w.item.Path, err)
		}
		if rel == "" {
			continue // "./", the root itself
		}
		if err := checkStateRel(rel, e.Type == archive.TypeDir); err != nil {
			return fmt.Errorf("%s: %w", w.item.Path, err)
		}
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if target, ok := symlinks[p]; ok {
				return fmt.Errorf("%s: entry %s would be written through the symlink /%s -> %s that the package ships: %w",
					w.item.Path, e.Path, p, target, ErrUnsafePath)
			}
		}
		if _, dup := w.byPath[rel]; dup {
			return fmt.Errorf("%s: entry %s appears twice: %w", w.item.Path, e.Path, archive.ErrBadEntry)
		}
		// Owner and mode as dpkg gives them: names through the root's
		// passwd and group, or a statoverride.
		uid, gid, mode := s.files.meta("/"+rel, e)
		st := &staged{rel: rel, file: pkgdb.File{Path: "/" + rel, Mode: modeWord(mode), Uid: uid, Gid: gid}}
		// A diverted path goes to its divert-to name, unless this is
		// the diverting package.
		use := strings.TrimPrefix(s.files.useName(w.pkg.Name, "/"+rel), "/")
		switch e.Type {
		case archive.TypeDir:
			st.file.Type = pkgdb.TypeDir
			d, err := s.mkdirsOwned(rel, mode, uid, gid)
			if err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			st.target = d.host
		case archive.TypeRegular, archive.TypeSymlink, archive.TypeHardlink:
			d, err := s.mkdirs(path.Dir(use), 0o755)
			if err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			st.target = filepath.Join(d.host, path.Base(use))
			if err := s.checkStateHost(use, st.target, false); err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			if !d.fresh {
				if s.rfs.isDir(st.target) {
					return fmt.Errorf("%s: cannot replace the directory /%s with a %s: %w", w.item.Path, rel, e.Type, ErrConflict)
				}
			}
			st.tmp = filepath.Join(filepath.Dir(st.target), randomName())
			switch e.Type {
			case archive.TypeRegular:
				st.file.Type = pkgdb.TypeRegular
				if err := s.writeFile(w, st, e, conffile[rel], k); err != nil {
					return fmt.Errorf("%s: %w", w.item.Path, err)
				}
			case archive.TypeSymlink:
				st.file.Type = pkgdb.TypeSymlink
				st.file.Link = e.Linkname
				symlinks[rel] = e.Linkname
				if err := s.rfs.symlink(e.Linkname, st.tmp); err != nil {
					return fmt.Errorf("%s: symlink /%s: %w", w.item.Path, rel, err)
				}
				s.noteTmp(st.tmp)
				s.chown(st.tmp, uid, gid, true)
			case archive.TypeHardlink:
				lrel, err := (&archive.Entry{Path: e.Linkname}).RelPath()
				if err != nil {
					return fmt.Errorf("%s: hard link %s: %w", w.item.Path, e.Path, err)
				}
				// The link's target must be written and its hash known.
				if err := k.flush(); err != nil {
					return err
				}
				other, ok := w.byPath[lrel]
				if !ok || other.file.Type != pkgdb.TypeRegular {
					return fmt.Errorf("%s: hard link %s to %s, which is not an earlier file of the package: %w",
						w.item.Path, e.Path, e.Linkname, archive.ErrBadEntry)
				}
				if err := s.rfs.link(other.tmp, st.tmp); err != nil {
					return fmt.Errorf("%s: hard link /%s: %w", w.item.Path, rel, err)
				}
				s.noteTmp(st.tmp)
				st.file.Type = pkgdb.TypeHard
				st.file.Link = "/" + lrel
				st.file.Size, st.file.SHA256, st.file.Mode = other.file.Size, other.file.SHA256, other.file.Mode
				if m, ok := w.md5s[lrel]; ok {
					w.md5s[rel] = m
				}
			}
		case archive.TypeChar, archive.TypeBlock, archive.TypeFifo:
			if !s.opts.AllowDevices {
				return fmt.Errorf("%s: entry %s is a %s: %w", w.item.Path, e.Path, e.Type, ErrDevice)
			}
			d, err := s.mkdirs(path.Dir(use), 0o755)
			if err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			st.target = filepath.Join(d.host, path.Base(use))
			if err := s.checkStateHost(use, st.target, false); err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			st.tmp = filepath.Join(d.host, randomName())
			if err := s.rfs.mknod(st.tmp, e); err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			s.noteTmp(st.tmp)
			s.chown(st.tmp, uid, gid, false)
			if err := s.rfs.chmod(st.tmp, mode); err != nil {
				return fmt.Errorf("%s: chmod /%s: %w", w.item.Path, rel, err)
			}
			st.file.Type = map[archive.EntryType]pkgdb.FileType{archive.TypeChar: pkgdb.TypeChar,
				archive.TypeBlock: pkgdb.TypeBlock, archive.TypeFifo: pkgdb.TypeFifo}[e.Type]
		default:
			return fmt.Errorf("%s: entry %s has unsupported type %s: %w", w.item.Path, e.Path, e.Type, archive.ErrBadEntry)
		}
		w.ents = append(w.ents, st)
		w.byPath[rel] = st
	}
	// Every file written, hashed and closed before the package counts as
	// staged.
	return k.stop()
}

// writeFile stages one regular file: created under a temporary name here,
// its content read from the archive here and written, hashed (SHA256
// always, MD5 when the package's md5sums lacks the file, and for
// conffiles, whose MD5 dpkg's status records) and finished in the sink.
// With Sync, the file's writeback is started; once the whole package is
// staged its files go to the stager's syncer (stageAll), and Apply waits
// for every fsync before the first rename.
func (s *stager) writeFile(w *work, st *staged, e *archive.Entry, isConf bool, k *sink) error {
	out, err := s.rfs.create(st.tmp)
	if err != nil {
		return fmt.Errorf("stage /%s: %w", st.rel, err)
	}
	s.noteTmp(st.tmp)
	f := &sinkFile{out: out, sh: sha256.New()}
	known, haveMD5 := w.ctl.MD5Sums[st.rel]
	if !haveMD5 || isConf {
		f.mh = md5.New()
	}
	for {
		bp := s.bufs.Get().(*[]byte)
		n, rerr := io.ReadFull(e.Body, *bp)
		if n > 0 {
			if err := k.send(sinkOp{file: f, data: bp, n: n}); err != nil {
				_ = k.send(sinkOp{file: f, close: true})
				return err
			}
		} else {
			s.bufs.Put(bp)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			_ = k.send(sinkOp{file: f, close: true})
			return fmt.Errorf("stage /%s: %w", st.rel, rerr)
		}
	}
	mode, uid, gid, mtime, size := modeFromWord(st.file.Mode), st.file.Uid, st.file.Gid, e.ModTime, e.Size
	f.finish = func(f *sinkFile) error {
		var err error
		if f.n != size {
			err = fmt.Errorf("wrote %d bytes, the archive says %d", f.n, size)
		}
		if err == nil {
			// The owner first: chown clears the setuid and setgid bits,
			// which the mode then sets (dpkg's fchown, fchmod order).
			s.chown(st.tmp, uid, gid, false)
			err = f.out.Chmod(unixMode(mode))
		}
		if err == nil && s.opts.Sync {
			// Start writeback now without waiting for it: the fsync
			// after staging then finds the data on its way or written
			// (dpkg does the same).
			_ = unix.SyncFileRange(int(f.out.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		}
		if cerr := f.out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("stage /%s: %w", st.rel, err)
		}
		if !mtime.IsZero() {
			_ = s.rfs.chtimes(st.tmp, mtime)
		}
		st.file.Size = f.n
		st.file.SHA256 = hex.EncodeToString(f.sh.Sum(nil))
		w.bytes += f.n
		sum := known
		if f.mh != nil {
			sum = hex.EncodeToString(f.mh.Sum(nil))
		}
		if !isConf {
			w.md5s[st.rel] = sum
			return nil
		}
		w.confs = append(w.confs, pkgdb.Conffile{Path: "/" + st.rel, SHA256: st.file.SHA256, MD5: sum})
		return s.decideConffile(w, st)
	}
	return k.send(sinkOp{file: f, close: true})
}

// decideConffile keeps a conffile the admin changed: when the file on disk
// differs both from what the package ships now and from what it shipped
// when installed, the new version goes beside it as PATH.dpkg-new.
func (s *stager) decideConffile(w *work, st *staged) error {
	cur, err := s.rfs.sha256(st.target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("conffile /%s: %w", st.rel, err)
	}
	if cur == st.file.SHA256 {
		return nil
	}
	if w.old != nil {
		if c := w.old.Conffile("/" + st.rel); c != nil && c.SHA256 == cur {
			return nil // unchanged since installed: the package's version wins
		}
	}
	// Changed locally since installed, or there before the package came.
	st.keepLocal = true
	if st.keepLocal {
		w.notes = append(w.notes, ConffileNote{Package: w.name(), Path: "/" + st.rel, NewPath: "/" + st.rel + ".dpkg-new"})
	}
	return nil
}

// chown sets ownership when grey runs as root; otherwise files belong to
// the caller, which is what an unprivileged root (a test, an image build)
// can hold.
func (s *stager) chown(p string, uid, gid int, link bool) {
	if s.euid != 0 || (uid == 0 && gid == s.egid) {
		return // not allowed, or already right: a new file is ours
	}
	// Never through a symlink: p is a name this transaction made (a
	// staged file, a directory it created) or the symlink itself.
	_ = s.rfs.lchown(p, uid, gid)
}
