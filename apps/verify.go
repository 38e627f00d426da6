package apps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/greypm/grey/deb/archive"
)

// VerifyOptions say what Verify does about what it finds.
type VerifyOptions struct {
	// Repair puts every damaged shared file back as composed: a damaged
	// store object gets the package's bytes again, taken from its .deb
	// (found through the store's manifests in Archives) into a new inode
	// that every file linked to the damaged one is linked to instead; a
	// file replaced by another inode is linked to its object again.
	Repair bool
	// Archives are the directories whose .deb files Repair may read.
	Archives []string
}

// ref is one file of a generation linked to a store object.
type ref struct {
	name string
	gen  int
	seal sealEntry
}

func (r ref) path(a *Apps) string {
	return filepath.Join(a.Root(r.name, r.gen), filepath.FromSlash(r.seal.Path))
}

// Verify checks every sealed generation of the apps named (every app
// when names is empty): each shared file by lstat against its seal
// (CheckGeneration), then each store object they link to by the SHA-256
// of its content, its mode and its owner against its key, which catches
// a write that kept the size and time. It returns what is damaged, each
// marked Repaired when o.Repair put it back.
func (a *Apps) Verify(ctx context.Context, names []string, o VerifyOptions) ([]Damage, error) {
	if len(names) == 0 {
		l, err := a.List()
		if err != nil {
			return nil, err
		}
		for _, m := range l {
			names = append(names, m.Name)
		}
	}
	var damage []Damage
	byKey := map[string][]ref{}
	listed := map[string]int{} // name/gen/path -> index in damage
	id := func(name string, gen int, path string) string { return fmt.Sprintf("%s/%d%s", name, gen, path) }
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, err
		}
		gens, unlock, err := a.lockedGenerations(name)
		if err != nil {
			return nil, err
		}
		defer unlock()
		for _, gen := range gens {
			seal, err := readSeal(a.sealPath(name, gen))
			if err != nil {
				return nil, err
			}
			root := a.Root(name, gen)
			for _, e := range seal {
				byKey[e.Key] = append(byKey[e.Key], ref{name, gen, e})
				if p := checkEntry(root, e); p != "" {
					listed[id(name, gen, e.Path)] = len(damage)
					damage = append(damage, Damage{Name: name, Generation: gen, Path: e.Path, Key: e.Key, Problem: p})
				}
			}
		}
	}
	// The objects, each hashed once.
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bad := map[string]string{}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p := checkObject(a.objectPath(k), k); p != "" {
			bad[k] = p
		}
	}
	for k, problem := range bad {
		oi, oerr := os.Lstat(a.objectPath(k))
		for _, r := range byKey[k] {
			fi, err := os.Lstat(r.path(a))
			if err != nil || oerr != nil || !os.SameFile(fi, oi) {
				continue // not linked to the damaged inode any more: listed above if changed
			}
			if _, ok := listed[id(r.name, r.gen, r.seal.Path)]; ok {
				continue
			}
			listed[id(r.name, r.gen, r.seal.Path)] = len(damage)
			damage = append(damage, Damage{Name: r.name, Generation: r.gen, Path: r.seal.Path, Key: k, Problem: "store object " + problem})
		}
	}
	sort.Slice(damage, func(i, j int) bool {
		x, y := damage[i], damage[j]
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if x.Generation != y.Generation {
			return x.Generation < y.Generation
		}
		return x.Path < y.Path
	})
	if !o.Repair || len(damage) == 0 {
		return damage, nil
	}
	src := &debSource{a: a, dirs: o.Archives}
	var errs []error
	for k := range bad {
		if err := a.restoreObject(k, byKey[k], src); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range damage {
		d := &damage[i]
		if _, ok := bad[d.Key]; ok && !src.restored[d.Key] {
			continue
		}
		r := ref{name: d.Name, gen: d.Generation}
		for _, x := range byKey[d.Key] {
			if x.name == d.Name && x.gen == d.Generation && x.seal.Path == d.Path {
				r = x
			}
		}
		fi, ferr := os.Lstat(r.path(a))
		oi, oerr := os.Lstat(a.objectPath(d.Key))
		if ferr == nil && oerr == nil && os.SameFile(fi, oi) {
			// The object's bytes are right (or were put back): only
			// its time was changed.
			t := time.Unix(0, r.seal.Mtime)
			if err := os.Chtimes(a.objectPath(d.Key), t, t); err != nil {
				errs = append(errs, err)
			}
		} else if checkEntry(a.Root(r.name, r.gen), r.seal) != "" {
			if err := relink(a.objectPath(d.Key), r.path(a)); err != nil {
				errs = append(errs, fmt.Errorf("repair %s: %w", r.path(a), err))
				continue
			}
		}
		d.Repaired = checkEntry(a.Root(r.name, r.gen), r.seal) == "" && checkObject(a.objectPath(d.Key), d.Key) == ""
	}
	return damage, errors.Join(errs...)
}

// checkObject hashes the store object at p and compares it with its key:
// "" when it is as named.
func checkObject(p, key string) string {
	f, err := os.Open(p)
	if err != nil {
		return "missing: " + err.Error()
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return err.Error()
	}
	if mode, uid, gid, ok := keyAttrs(key); !ok || st.Mode&0o7777 != mode || st.Uid != uid || st.Gid != gid {
		return fmt.Sprintf("has mode %04o owner %d:%d, not its key's", st.Mode&0o7777, st.Uid, st.Gid)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err.Error()
	}
	if sum := hex.EncodeToString(h.Sum(nil)); !strings.HasPrefix(key, sum+"-") {
		return "content has SHA-256 " + sum + ", not its key's"
	}
	return ""
}

// relink makes p a hard link to obj (a link beside it renamed over it).
func relink(obj, p string) error {
	tmp := filepath.Join(filepath.Dir(p), ".grey-repair-"+filepath.Base(p))
	os.Remove(tmp)
	if err := os.Link(obj, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// restoreObject replaces the damaged object key by a new inode with the
// package's bytes from src, and links every file of refs that is a link
// to the damaged inode to the new one.
func (a *Apps) restoreObject(key string, refs []ref, src *debSource) error {
	obj := a.objectPath(key)
	tmp := filepath.Join(filepath.Dir(obj), ".repair-"+key)
	os.Remove(tmp)
	defer os.Remove(tmp)
	if err := src.extract(key, tmp); err != nil {
		return fmt.Errorf("repair store object %s: %w", key, err)
	}
	mode, uid, gid, _ := keyAttrs(key)
	if err := os.Lchown(tmp, int(uid), int(gid)); err != nil {
		return err
	}
	// Chmod after chown: chown clears setuid and setgid bits.
	if err := syscall.Chmod(tmp, mode); err != nil {
		return err
	}
	if len(refs) > 0 {
		t := time.Unix(0, refs[0].seal.Mtime)
		if err := os.Chtimes(tmp, t, t); err != nil {
			return err
		}
	}
	old, oerr := os.Lstat(obj)
	for _, r := range refs {
		fi, err := os.Lstat(r.path(a))
		if err != nil || oerr != nil || !os.SameFile(fi, old) {
			continue
		}
		if err := relink(tmp, r.path(a)); err != nil {
			return fmt.Errorf("repair %s: %w", r.path(a), err)
		}
	}
	if err := os.Rename(tmp, obj); err != nil {
		return err
	}
	if src.restored == nil {
		src.restored = map[string]bool{}
	}
	src.restored[key] = true
	return nil
}

// debSource finds a store object's bytes in the .debs whose manifests
// name it.
type debSource struct {
	a    *Apps
	dirs []string
	// byKey: object key -> (SHA-256 of a .deb, path in it), from the
	// store's manifests; debs: SHA-256 -> .deb file in dirs. Both read
	// at first use.
	byKey    map[string][][2]string
	debs     map[string]string
	restored map[string]bool
}

func (s *debSource) load() error {
	if s.byKey != nil {
		return nil
	}
	s.byKey, s.debs = map[string][][2]string{}, map[string]string{}
	dir := filepath.Join(s.a.Dir, ".store", "manifests")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range ents {
		sum, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			continue // a damaged manifest is no source
		}
		for p, k := range m.Objects {
			s.byKey[k] = append(s.byKey[k], [2]string{sum, p})
		}
	}
	for _, d := range s.dirs {
		debs, _ := filepath.Glob(filepath.Join(d, "*.deb"))
		for _, p := range debs {
			if sum, err := fileSum(p); err == nil {
				s.debs[sum] = p
			}
		}
	}
	return nil
}

// extract writes the content of object key, read from a .deb that holds
// it and checked against the key's SHA-256, to the new file out.
func (s *debSource) extract(key, out string) error {
	if err := s.load(); err != nil {
		return err
	}
	want, _, _ := strings.Cut(key, "-")
	for _, c := range s.byKey[key] {
		deb, ok := s.debs[c[0]]
		if !ok {
			continue
		}
		if err := extractMember(deb, c[1], out, want); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no .deb in %s holds it (run grey app upgrade after grey update, or install the app again)", strings.Join(s.dirs, ", "))
}

// extractMember writes the regular file path of the .deb at deb to out
// when its content has SHA-256 want.
func extractMember(deb, path, out, want string) error {
	f, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer f.Close()
	r := archive.NewReader(f, archive.ReadOptions{Name: deb})
	if _, err := r.Control(); err != nil {
		return err
	}
	d, err := r.Data()
	if err != nil {
		return err
	}
	rel := strings.TrimPrefix(path, "/")
	for {
		e, err := d.Next()
		if err != nil {
			return err // io.EOF: not in it
		}
		if p, err := e.RelPath(); err != nil || p != rel || e.Type != archive.TypeRegular {
			continue
		}
		w, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(w, h), e.Body)
		if serr := w.Sync(); err == nil {
			err = serr
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil && hex.EncodeToString(h.Sum(nil)) != want {
			err = fmt.Errorf("%s in %s does not have SHA-256 %s", path, deb, want)
		}
		if err != nil {
			os.Remove(out)
		}
		return err
	}
}
