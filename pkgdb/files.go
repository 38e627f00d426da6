package pkgdb

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The dirs bucket (schema version 4) is the path index: which packages own
// each installed path. It has one key per directory that holds an
// installed path, the directory with its trailing slash ("/usr/bin/"), and
// as value the directory's entries sorted by base name, each
//
//	uvarint(len(base)) base uvarint(n) n × (uvarint(len(owner)) owner)
//
// with the owners (record keys) sorted. Regular files have one owner;
// directories are shared, and the owner count is the reference count that
// decides whether removing a package may delete the directory.
//
// One key per directory rather than per path: bbolt's cost is per key,
// and adopting a dpkg database of 150,000 paths put 150,000 keys (0.4 s
// of its 1.5 s) where it now puts one per directory.

// splitPath cuts p after its last slash: the dirs key and the base name.
// A path without a slash (never recorded; absolute paths have one) files
// under ".", which no directory key can be.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	return p[:i+1], p[i+1:]
}

// dirEntry is one base name of a directory and its owners, sorted.
type dirEntry struct {
	base   string
	owners []string
}

// nextString reads one uvarint-prefixed string at v[i:]; ok is false when
// v is cut short.
func nextString(v []byte, i int) (s []byte, next int, ok bool) {
	n, k := binary.Uvarint(v[i:])
	if k <= 0 || uint64(len(v)-i-k) < n {
		return nil, 0, false
	}
	i += k
	return v[i : i+int(n)], i + int(n), true
}

// lookupDir returns the owners of base in a dirs value, copied out of it.
func lookupDir(v []byte, base string) []string {
	for i := 0; i < len(v); {
		b, next, ok := nextString(v, i)
		if !ok {
			return nil
		}
		n, k := binary.Uvarint(v[next:])
		if k <= 0 || n > uint64(len(v)) {
			return nil
		}
		i = next + k
		match := string(b) == base
		var out []string
		if match {
			out = make([]string, 0, n)
		}
		for ; n > 0; n-- {
			var o []byte
			if o, i, ok = nextString(v, i); !ok {
				return nil
			}
			if match {
				out = append(out, string(o))
			}
		}
		if match {
			return out
		}
	}
	return nil
}

// decodeDir reads a dirs value into its entries.
func decodeDir(v []byte, dir string) ([]dirEntry, error) {
	var out []dirEntry
	for i := 0; i < len(v); {
		b, next, ok := nextString(v, i)
		if !ok {
			return nil, fmt.Errorf("pkgdb: corrupt path index of %s", dir)
		}
		n, k := binary.Uvarint(v[next:])
		if k <= 0 || n > uint64(len(v)) {
			return nil, fmt.Errorf("pkgdb: corrupt path index of %s", dir)
		}
		i = next + k
		e := dirEntry{base: string(b), owners: make([]string, 0, n)}
		for ; n > 0; n-- {
			var o []byte
			if o, i, ok = nextString(v, i); !ok {
				return nil, fmt.Errorf("pkgdb: corrupt path index of %s", dir)
			}
			e.owners = append(e.owners, string(o))
		}
		out = append(out, e)
	}
	return out, nil
}

// appendDir encodes entries (sorted, none without owners) onto buf.
func appendDir(buf []byte, entries []dirEntry) []byte {
	for _, e := range entries {
		buf = binary.AppendUvarint(buf, uint64(len(e.base)))
		buf = append(buf, e.base...)
		buf = binary.AppendUvarint(buf, uint64(len(e.owners)))
		for _, o := range e.owners {
			buf = binary.AppendUvarint(buf, uint64(len(o)))
			buf = append(buf, o...)
		}
	}
	return buf
}

// ownerChange is one package gaining (or, with del, losing) one path.
type ownerChange struct {
	dir, base, owner string
	del              bool
}

// ownerChanges collects changes of the path index, to write them with
// one read and one write per directory.
type ownerChanges struct{ all []ownerChange }

func (c *ownerChanges) add(path, owner string) {
	d, b := splitPath(path)
	c.all = append(c.all, ownerChange{dir: d, base: b, owner: owner})
}

func (c *ownerChanges) del(path, owner string) {
	d, b := splitPath(path)
	c.all = append(c.all, ownerChange{dir: d, base: b, owner: owner, del: true})
}

// byDir groups the changes by directory (in their order within one), in
// one array: a count, then a fill (a slice per directory grown by appends
// was most of the grouping's time).
func (c *ownerChanges) byDir() (dirs []string, groups map[string][]ownerChange) {
	count := map[string]int{}
	last, n := "", 0
	flush := func() {
		if n > 0 {
			count[last] += n
		}
	}
	for i := range c.all {
		if d := c.all[i].dir; d != last || n == 0 {
			flush()
			last, n = d, 0
		}
		n++
	}
	flush()
	dirs = make([]string, 0, len(count))
	for d := range count {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs) // bbolt inserts sorted keys fastest
	backing := make([]ownerChange, len(c.all))
	groups = make(map[string][]ownerChange, len(dirs))
	next := make(map[string]int, len(dirs))
	at := 0
	for _, d := range dirs {
		groups[d] = backing[at : at+count[d]]
		next[d] = at
		at += count[d]
	}
	// Changes come in runs of one directory (a package's list): one map
	// look-up per run.
	last, k := "", -1
	for _, ch := range c.all {
		if ch.dir != last || k < 0 {
			if k >= 0 {
				next[last] = k
			}
			last, k = ch.dir, next[ch.dir]
		}
		backing[k] = ch
		k++
	}
	return dirs, groups
}

// apply writes the changes: per path, the owners it had lose those
// removed and gain those added (a package both removed and added keeps
// the path).
func (c *ownerChanges) apply(tx *bolt.Tx) error {
	if len(c.all) == 0 {
		return nil
	}
	b := tx.Bucket(bucketDirs)
	size := 0
	for _, ch := range c.all {
		size += len(ch.base) + len(ch.owner) + 4
	}
	dirs, groups := c.byDir()
	if k, _ := b.Cursor().First(); k == nil {
		// An empty index (a first adoption, a rebuild) only grows
		// here: full pages halve what the commit writes.
		b.FillPercent = 1.0
	}
	// Values must stay valid until the commit: one buffer holds them.
	arena := make([]byte, 0, size+size/4)
	for _, d := range dirs {
		old, err := decodeDir(b.Get([]byte(d)), d)
		if err != nil {
			return err
		}
		chs := groups[d]
		slices.SortStableFunc(chs, func(x, y ownerChange) int { return strings.Compare(x.base, y.base) })
		entries := make([]dirEntry, 0, len(old)+len(chs))
		i := 0
		for j := 0; j < len(chs); {
			base := chs[j].base
			for ; i < len(old) && old[i].base < base; i++ {
				entries = append(entries, old[i])
			}
			var owners []string
			if i < len(old) && old[i].base == base {
				owners = old[i].owners
				i++
			}
			k := j
			for ; k < len(chs) && chs[k].base == base; k++ {
			}
			owners = applyOwners(owners, chs[j:k])
			if len(owners) > 0 {
				entries = append(entries, dirEntry{base: base, owners: owners})
			}
			j = k
		}
		entries = append(entries, old[i:]...)
		if len(entries) == 0 {
			if err := b.Delete([]byte(d)); err != nil {
				return fmt.Errorf("pkgdb: path index of %s: %w", d, err)
			}
			continue
		}
		start := len(arena)
		arena = appendDir(arena, entries)
		if err := b.Put([]byte(d), arena[start:len(arena):len(arena)]); err != nil {
			return fmt.Errorf("pkgdb: path index of %s: %w", d, err)
		}
	}
	return nil
}

// applyOwners returns owners without the changes' removals that are not
// also added, with their additions, sorted and unique.
func applyOwners(owners []string, chs []ownerChange) []string {
	out := make([]string, 0, len(owners)+len(chs))
	var drop map[string]bool
	for _, ch := range chs {
		if ch.del {
			if drop == nil {
				drop = map[string]bool{}
			}
			drop[ch.owner] = true
		}
	}
	for _, ch := range chs {
		if !ch.del && drop[ch.owner] {
			delete(drop, ch.owner)
		}
	}
	for _, o := range owners {
		if !drop[o] {
			out = append(out, o)
		}
	}
	for _, ch := range chs {
		if !ch.del {
			out = append(out, ch.owner)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Owners returns the packages that own path (absolute, "/usr/bin/hello"),
// sorted; none when no installed package has it.
func Owners(tx *bolt.Tx, path string) []string {
	b := tx.Bucket(bucketDirs)
	if b == nil {
		return nil
	}
	d, base := splitPath(path)
	return lookupDir(b.Get([]byte(d)), base)
}

// rebuildPathIndex drops the path index (and the per-path one of schema
// 3) and builds it again from the package records: migration 3 to 4.
func rebuildPathIndex(tx *bolt.Tx) error {
	for _, name := range [][]byte{[]byte("paths"), bucketDirs} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("pkgdb: drop bucket %s: %w", name, err)
			}
		}
	}
	if err := EnsureInstalledBuckets(tx); err != nil {
		return err
	}
	pkgs, err := Packages(tx)
	if err != nil {
		return err
	}
	var c ownerChanges
	for _, p := range pkgs {
		for _, f := range p.Files {
			c.add(f.Path, p.Key())
		}
	}
	return c.apply(tx)
}
