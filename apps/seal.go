package apps

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Store objects are hard links: root writing into a file of an app root
// outside "grey app run" (where the root is read-only) writes into the
// one inode every app and generation sharing that content links to. Root
// ignores the missing write bits, so nothing on an ordinary file system
// prevents it. grey detects it instead: each generation has a seal,
// gen/N.seal, listing every file linked to the store with its object
// key, size and modification time as composed. "grey app run" compares
// them with lstat before starting the app (CheckGeneration: no reading
// of contents), and refuses a generation whose shared files changed;
// Verify also hashes the objects (a write that kept size and mtime),
// and Repair puts the package's own bytes back from its .deb.

// sealEntry is one shared file of a generation as composed.
type sealEntry struct {
	Key   string
	Size  int64
	Mtime int64 // nanoseconds since 1970
	Path  string
}

func (a *Apps) sealPath(name string, gen int) string {
	return filepath.Join(a.genDir(name), strconv.Itoa(gen)+".seal")
}

// writeSeal records the shared files of the root at root (keys: object
// key by absolute path in the root) into path, durably: their size and
// time from stamps (share saw them), else from a look at each. One line each,
// sorted by path: "KEY SIZE MTIME PATH".
func writeSeal(path, root string, keys map[string]string, stamps map[string]stamp) error {
	paths := make([]string, 0, len(keys))
	for p := range keys {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		sp, ok := stamps[p]
		if !ok {
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(root, filepath.FromSlash(p)), &st); err != nil {
				return fmt.Errorf("seal %s: %w", p, err)
			}
			sp = stamp{st.Size, st.Mtim.Nano()}
		}
		fmt.Fprintf(&b, "%s %d %d %s\n", keys[p], sp.size, sp.mtime, p)
	}
	return writeDurable(path, b.Bytes())
}

// readSeal reads a seal; a generation made before seals existed has none
// (nil, nil).
func readSeal(path string) ([]sealEntry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []sealEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.SplitN(sc.Text(), " ", 4)
		var e sealEntry
		var err1, err2 error
		if len(f) == 4 {
			e.Key, e.Path = f[0], f[3]
			e.Size, err1 = strconv.ParseInt(f[1], 10, 64)
			e.Mtime, err2 = strconv.ParseInt(f[2], 10, 64)
		}
		if len(f) != 4 || err1 != nil || err2 != nil || len(e.Key) < 64 || !strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("%s:%d: not KEY SIZE MTIME PATH", path, n)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// keyAttrs returns the permission bits (as the store object has them:
// readOnly of the key's), uid and gid a key names.
func keyAttrs(key string) (mode uint32, uid, gid uint32, ok bool) {
	f := strings.Split(key, "-")
	if len(f) != 4 {
		return 0, 0, 0, false
	}
	m, err1 := strconv.ParseUint(f[1], 8, 32)
	u, err2 := strconv.ParseUint(f[2], 10, 32)
	g, err3 := strconv.ParseUint(f[3], 10, 32)
	return readOnly(uint32(m)), uint32(u), uint32(g), err1 == nil && err2 == nil && err3 == nil
}

// Damage is a shared file of a generation that is not as it was
// composed.
type Damage struct {
	Name       string `json:"name"`
	Generation int    `json:"generation"`
	Path       string `json:"path"`
	// Key is the store object the file was a link to.
	Key     string `json:"key"`
	Problem string `json:"problem"`
	// Repaired is set by Repair when the file is as composed again.
	Repaired bool `json:"repaired,omitempty"`
}

func (d Damage) String() string { return d.Path + ": " + d.Problem }

// DamagedError refuses a generation whose shared files changed outside
// grey.
type DamagedError struct {
	Name       string
	Generation int
	Damage     []Damage
}

func (e *DamagedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "app %s generation %d: %d shared file(s) changed outside grey (written in the app root directly, not under grey app run; the store object is shared with other apps and generations): ", e.Name, e.Generation, len(e.Damage))
	for i, d := range e.Damage {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Damage)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	b.WriteString("; run \"grey app verify --repair\"")
	return b.String()
}

// checkEntry compares one shared file with its seal entry by lstat.
func checkEntry(root string, e sealEntry) string {
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, filepath.FromSlash(e.Path)), &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return "missing"
		}
		return err.Error()
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return "no longer a regular file"
	}
	if mode, uid, gid, ok := keyAttrs(e.Key); ok && (st.Mode&0o7777 != mode || st.Uid != uid || st.Gid != gid) {
		return fmt.Sprintf("mode %04o owner %d:%d, was %04o %d:%d", st.Mode&0o7777, st.Uid, st.Gid, mode, uid, gid)
	}
	if st.Size != e.Size {
		return fmt.Sprintf("size %d, was %d", st.Size, e.Size)
	}
	if st.Mtim.Nano() != e.Mtime {
		return fmt.Sprintf("modified %s, was %s", time.Unix(0, st.Mtim.Nano()).UTC().Format(time.RFC3339Nano), time.Unix(0, e.Mtime).UTC().Format(time.RFC3339Nano))
	}
	return ""
}

// CheckGeneration compares every shared file of generation gen of name
// with its seal by lstat (size, modification time, mode, owner): what a
// write outside grey changes. sealed is false for a generation made
// before seals existed (nothing to compare with).
func (a *Apps) CheckGeneration(name string, gen int) (damage []Damage, sealed bool, err error) {
	seal, err := readSeal(a.sealPath(name, gen))
	if err != nil || seal == nil {
		_, serr := os.Stat(a.sealPath(name, gen))
		return nil, serr == nil, err
	}
	root := a.Root(name, gen)
	for _, e := range seal {
		if p := checkEntry(root, e); p != "" {
			damage = append(damage, Damage{Name: name, Generation: gen, Path: e.Path, Key: e.Key, Problem: p})
		}
	}
	return damage, true, nil
}
