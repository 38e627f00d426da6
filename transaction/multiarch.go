package transaction

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/pkgdb"
)

// A package instance is a name and an architecture, as for dpkg. Its
// record in grey's database is keyed by the name when the architecture is
// the root's native one or "all", and by "name:arch" for a foreign one
// (SyncHost keys adopted instances the same way), so that libc6:i386 can
// sit beside libc6 (amd64). Only Multi-Arch: same packages may have
// several instances; their shared files must be identical.

// recordKey is the database key of the instance name:arch in a root
// whose native architecture is native.
func recordKey(name, arch, native string) string {
	if arch == "" || arch == "all" || arch == native {
		return name
	}
	return name + ":" + arch
}

// keyName is the package name of a record key ("libc6:i386" -> "libc6").
func keyName(key string) string {
	name, _, _ := strings.Cut(key, ":")
	return name
}

// key is the database key of w's package.
func (w *work) key() string { return w.k }

// sameInstances reports whether two instances of one name may be
// installed together: both Multi-Arch: same, of different architectures.
func sameInstances(a *deb.Package, b *pkgdb.Package) bool {
	return a.MultiArch == deb.MultiArchSame && b.MultiArch == "same" && a.Architecture != b.Architecture
}

// oldInstance returns the installed record p (keyed key) replaces: its
// own instance's, else, for a crossgrade (dpkg -i of hello:i386 over
// hello:amd64), the one other instance of the name that p may not sit
// beside. nil when p is new.
func oldInstance(installed map[string]*pkgdb.Package, p *deb.Package, key string) *pkgdb.Package {
	if old := installed[key]; old != nil {
		return old
	}
	var keys []string
	for k, rec := range installed {
		if rec.Name == p.Name && !sameInstances(p, rec) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil
	}
	return installed[keys[0]]
}

// resolveRemoveName finds the record key a removal names: "name",
// "name:arch" ("name:native" and "name:all" are the name's own record),
// or a name of which only one foreign instance is installed.
func resolveRemoveName(installed map[string]*pkgdb.Package, name, native string) string {
	if n, arch, ok := strings.Cut(name, ":"); ok {
		if rec := installed[recordKey(n, arch, native)]; rec != nil && (rec.Architecture == arch || arch == native || arch == "any") {
			return recordKey(n, arch, native)
		}
		if arch == native || arch == "all" {
			if rec := installed[n]; rec != nil {
				return n
			}
		}
		return name
	}
	if installed[name] != nil {
		return name
	}
	var keys []string
	for k, rec := range installed {
		if rec.Name == name {
			keys = append(keys, k)
		}
	}
	if len(keys) == 1 {
		return keys[0]
	}
	return name
}

// checkInstances refuses what dpkg refuses for multi-arch: two instances
// of a name in one plan unless both are Multi-Arch: same; an instance
// beside an installed one of another architecture unless both are
// Multi-Arch: same (a crossgrade replaces it, see oldInstance); and
// Multi-Arch: same instances left at different versions.
func (t *txn) checkInstances() error {
	leaving := map[string]bool{}
	for _, r := range t.removes {
		leaving[r.rec.Key()] = true
	}
	byName := map[string][]*work{}
	for _, w := range t.works {
		if w.old != nil && w.old.Key() != w.key() {
			leaving[w.old.Key()] = true
		}
		byName[w.name()] = append(byName[w.name()], w)
	}
	for _, w := range t.works {
		for _, o := range byName[w.name()] {
			if o == w {
				continue
			}
			if w.pkg.MultiArch != deb.MultiArchSame || o.pkg.MultiArch != deb.MultiArchSame {
				return fmt.Errorf("%s: %s:%s and %s:%s cannot both be installed: only Multi-Arch: same packages can be co-installed",
					w.item.Path, w.name(), w.pkg.Architecture, o.name(), o.pkg.Architecture)
			}
			if w.pkg.Version.String() != o.pkg.Version.String() {
				return fmt.Errorf("%s: %s:%s %s and %s:%s %s: Multi-Arch: same instances must have the same version",
					w.item.Path, w.name(), w.pkg.Architecture, w.pkg.Version, o.name(), o.pkg.Architecture, o.pkg.Version)
			}
		}
		var keys []string
		for k := range t.installed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			rec := t.installed[k]
			if rec.Name != w.name() || k == w.key() || leaving[k] || !rec.IsInstalled() {
				continue
			}
			if replaced := func() bool {
				for _, o := range byName[w.name()] {
					if o.key() == k {
						return true
					}
				}
				return false
			}(); replaced {
				continue
			}
			if !sameInstances(w.pkg, rec) {
				return fmt.Errorf("%s: %s:%s cannot be installed beside %s:%s: only Multi-Arch: same packages can be co-installed",
					w.item.Path, w.name(), w.pkg.Architecture, rec.Name, rec.Architecture)
			}
			if rec.Version != w.pkg.Version.String() {
				return fmt.Errorf("%s: %s:%s %s cannot be installed beside %s:%s %s: Multi-Arch: same instances must have the same version (install both)",
					w.item.Path, w.name(), w.pkg.Architecture, w.pkg.Version, rec.Name, rec.Architecture, rec.Version)
			}
		}
	}
	return nil
}

// sharedError is dpkg's refusal of a Multi-Arch: same instance whose copy
// of a shared path differs from another instance's.
func sharedError(w *work, p string) error {
	return fmt.Errorf("%s: trying to overwrite shared '%s', which is different from other instances of package %s:%s: %w",
		w.item.Path, p, w.name(), w.pkg.Architecture, ErrConflict)
}

// sameFile reports whether two instances' copies of a path are the same:
// the same type, content (regular files) and target (symbolic links).
func sameFile(a, b pkgdb.File) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case pkgdb.TypeRegular:
		return a.SHA256 == b.SHA256 && a.Size == b.Size
	case pkgdb.TypeSymlink, pkgdb.TypeHard:
		return a.Link == b.Link
	}
	return true
}

// sameAsInstalled reports whether the staged entry e is the file the
// installed instance rec has at its path: its record when that has a
// SHA256, else the file in the root (an adopted record has only MD5s),
// as dpkg compares the shared file in place.
func (t *txn) sameAsInstalled(rec *pkgdb.Package, e *staged) bool {
	for _, f := range rec.Files {
		if f.Path != e.file.Path {
			continue
		}
		if f.Type != pkgdb.TypeRegular || f.SHA256 != "" {
			if f.Type == pkgdb.TypeRegular && e.file.Type == pkgdb.TypeRegular {
				return f.SHA256 == e.file.SHA256
			}
			return sameFile(f, e.file)
		}
		host, err := t.st.resolve(strings.TrimPrefix(f.Path, "/"))
		if err != nil || e.file.Type != pkgdb.TypeRegular {
			return false
		}
		sum, err := t.st.rfs.sha256(host)
		return err == nil && sum == e.file.SHA256
	}
	return false
}

// GetInstance returns the record a user's name for an installed package
// means: "name" (its native instance, else its only one), "name:arch"
// ("name:native" and "name:all" are the name's own record), as dpkg
// takes them. nil when there is none.
func GetInstance(tx *bolt.Tx, name string) (*pkgdb.Package, error) {
	if p, err := pkgdb.GetPackage(tx, name); p != nil || err != nil {
		return p, err
	}
	n, arch, qualified := strings.Cut(name, ":")
	if qualified {
		p, err := pkgdb.GetPackage(tx, n)
		if err != nil || p == nil || p.Architecture != arch && arch != "any" {
			return nil, err
		}
		return p, nil
	}
	pkgs, err := pkgdb.Packages(tx)
	if err != nil {
		return nil, err
	}
	var found *pkgdb.Package
	for _, p := range pkgs {
		if p.Name == name {
			if found != nil {
				return nil, nil // ambiguous: the caller says which
			}
			found = p
		}
	}
	return found, nil
}
