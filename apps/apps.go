// Package apps keeps per-application roots: each application lives in its
// own Debian root (its own grey database and dpkg status), composed through
// the transaction package's entry point (Prepare, Pending.Download, Apply)
// into a new generation beside the old ones, and made current by one atomic
// rename of a symbolic link. Identical files of every app root are hard
// links to one object of a shared content store.
//
// Layout under the apps directory (DirOf(ROOT) = ROOT/var/lib/grey/apps):
//
//	NAME/gen/N/       generation N: a complete Debian root
//	NAME/gen/N.json   what generation N holds (Meta), written before N appears
//	NAME/gen/N.seal   its shared files as composed: key, size, mtime (seal.go)
//	NAME/gen/.new-N/  a generation being composed (never current; removed by the next install)
//	NAME/current      symlink to gen/N, replaced by rename(2) only
//	NAME/lock         flock held while NAME changes
//	NAME/state/N/     writable copies of gen N's /etc and /var (app run as root)
//	NAME/launchers.json  the launchers "grey app export" wrote (WriteLauncher)
//	.store/objects/   shared file contents, one hard link per app file
//
// See docs/apps.md for the model and its invariants.
package apps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// DirOf returns the apps directory of a host root.
func DirOf(root string) string {
	return filepath.Join(root, "var", "lib", "grey", "apps")
}

// Apps is one apps directory.
type Apps struct {
	// Dir is the apps directory (DirOf).
	Dir string

	// step, when set, is called at each step boundary of Install,
	// Switch, GC and PruneStore; an error stops there as a crash would
	// (tests).
	step func(string) error
	// faults kills the process at a chosen boundary (faultinject builds).
	faults faults
}

// Open returns the apps directory dir.
func Open(dir string) *Apps { return &Apps{Dir: dir} }

// Meta describes one generation of an app.
type Meta struct {
	Name       string `json:"name"`
	Generation int    `json:"generation"`
	// Requested are the package arguments the generation was made from.
	Requested []string `json:"requested"`
	// Packages are the installed packages, as name=version, sorted.
	Packages []string `json:"packages"`
	// Command is the program "grey app run" starts ("" = /usr/bin/NAME).
	Command string `json:"command,omitempty"`
	// CommandFrom says where Command came from: CommandFlag (given on
	// the command line, which an upgrade keeps), CommandSpec (the spec's
	// command:, which an upgrade takes again), or "" (no --command
	// without a spec, or a generation written before this field, which
	// an upgrade treats as it did then).
	CommandFrom string    `json:"command_from,omitempty"`
	Created     time.Time `json:"created"`
	// Spec is the image spec the generation was made from ("" for
	// package arguments); an upgrade resolves it again and rewrites its
	// lock.
	Spec string `json:"spec,omitempty"`
	// Essential, Scripts and Recommends are the install's options, which
	// an upgrade repeats.
	Essential  bool `json:"essential,omitempty"`
	Scripts    bool `json:"scripts,omitempty"`
	Recommends bool `json:"recommends,omitempty"`
	// Extras is the digest of the spec's files, users and groups
	// written into the root (InstallOptions.ExtrasSum).
	Extras string `json:"extras,omitempty"`
	// SharedFiles is how many files of the root are links to the store.
	SharedFiles int `json:"shared_files"`
	// FromStore is how many packages were installed from the store's
	// contents rather than unpacked from their .debs.
	FromStore int `json:"from_store,omitempty"`
	// Current is set by List and History for the current generation.
	Current bool `json:"current,omitempty"`
	// Size is set by List (with sizes): what the generation takes on disk.
	Size *Sizes `json:"size,omitempty"`
}

// Where a generation's command came from (Meta.CommandFrom).
const (
	// CommandFlag is a command given on the command line (app install
	// --command, app upgrade --command): upgrades keep it.
	CommandFlag = "flag"
	// CommandSpec is the spec's command: (or, when it has none, the
	// default program): upgrades take the spec's again.
	CommandSpec = "spec"
)

// InvalidNameError is an app name that cannot be a directory name.
type InvalidNameError struct{ Name string }

func (e *InvalidNameError) Error() string {
	return fmt.Sprintf("invalid app name %q: use letters, digits, '.', '+', '-' and '_', starting with a letter or digit", e.Name)
}

// NotFoundError is an app or generation that does not exist.
type NotFoundError struct {
	Name       string
	Generation int
}

func (e *NotFoundError) Error() string {
	if e.Generation > 0 {
		return fmt.Sprintf("app %s has no generation %d", e.Name, e.Generation)
	}
	return fmt.Sprintf("no app %s", e.Name)
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]*$`)

func checkName(name string) error {
	if !validName.MatchString(name) || len(name) > 128 {
		return &InvalidNameError{Name: name}
	}
	return nil
}

func (a *Apps) appDir(name string) string { return filepath.Join(a.Dir, name) }
func (a *Apps) genDir(name string) string { return filepath.Join(a.Dir, name, "gen") }

// Root returns the directory of generation gen of name.
func (a *Apps) Root(name string, gen int) string {
	return filepath.Join(a.genDir(name), strconv.Itoa(gen))
}

func (a *Apps) hook(s string) error {
	a.faults.at(s)
	if a.step == nil {
		return nil
	}
	return a.step(s)
}

// InstallOptions say what a new generation holds and where its packages
// come from.
type InstallOptions struct {
	// Index is what the request resolves against (the host root's sources).
	Index resolver.Index
	// Request: Install jobs and Recommends; Architecture defaults to the host's.
	Request resolver.Request
	// Local are .deb files installed as they are.
	Local []string
	// Pending, when set, is the change itself (an image lock's packages:
	// image.Lock.Pending) and Index, Request and Local are not used.
	Pending *transaction.Pending
	// Requested is recorded in Meta (the command's package arguments).
	Requested []string
	// Download fetches the packages (into the host root's archive cache).
	Download transaction.DownloadOptions
	// Scripts runs maintainer scripts inside the app root (chrooted), as
	// an image spec's "scripts: true"; the root then needs a shell.
	Scripts bool
	// Essential is recorded in Meta (the caller adds the Essential set
	// to Request).
	Essential bool
	// Command is the program "grey app run" starts.
	Command string
	// CommandFrom is recorded in Meta: where Command came from
	// (CommandFlag, CommandSpec or "").
	CommandFrom string
	// Spec is recorded in Meta.
	Spec         string
	ScriptOutput io.Writer
	Now          func() time.Time
	// Sync makes the generation durable before it becomes current.
	Sync bool
	// Prepared, when set, is called with the resolved change before
	// anything is downloaded (to print the plan).
	Prepared func(*transaction.Pending) error
	// Extras, when set, is called with the new root's directory after
	// the packages are installed (and their scripts ran), before its
	// files are linked to the store: an image spec's files, users and
	// groups (image.AddExtras).
	Extras func(dir string) error
	// ExtrasSum is recorded in Meta: a digest of what Extras writes, so
	// that an upgrade can tell a changed spec from an unchanged one.
	ExtrasSum string
}

// Install composes a new generation of app name and makes it current.
// Until the final rename the current generation is unchanged; an error
// leaves it and every other generation as they were.
func (a *Apps) Install(ctx context.Context, name string, o InstallOptions) (_ *Meta, err error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	// A first install that fails leaves no trace: no app directory, no
	// apps directory when there was none, no store object.
	_, statDir := os.Stat(a.Dir)
	_, statApp := os.Stat(a.appDir(name))
	if errors.Is(statApp, os.ErrNotExist) {
		defer func() {
			if err == nil {
				return
			}
			os.RemoveAll(a.appDir(name))
			a.PruneStore()
			if errors.Is(statDir, os.ErrNotExist) {
				os.RemoveAll(a.Dir) // holds nothing else: it did not exist
			}
		}()
	}
	// gen/ is made under the lock: a gc of an app that never
	// completed a generation removes its directory under the lock.
	unlock, err := a.lock(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := os.MkdirAll(a.genDir(name), 0o755); err != nil {
		return nil, err
	}
	gens, err := a.generations(name)
	if err != nil {
		return nil, err
	}
	n := 1
	if len(gens) > 0 {
		n = gens[len(gens)-1] + 1
	}
	// A generation left half-made by a crash is never current: remove it.
	if ents, err := os.ReadDir(a.genDir(name)); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".new-") {
				if err := os.RemoveAll(filepath.Join(a.genDir(name), e.Name())); err != nil {
					return nil, err
				}
			}
		}
	}
	tmp := filepath.Join(a.genDir(name), ".new-"+strconv.Itoa(n))
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	meta, err := a.compose(ctx, name, n, tmp, o)
	if err != nil {
		return nil, err
	}
	meta.CommandFrom = o.CommandFrom
	if err := a.hook("composed"); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(a.genDir(name), strconv.Itoa(n)+".json"), meta); err != nil {
		return nil, err
	}
	if err := a.hook("meta"); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, a.Root(name, n)); err != nil {
		return nil, err
	}
	ok = true
	if err := syncDir(a.genDir(name)); err != nil {
		return nil, err
	}
	if err := a.hook("generation"); err != nil {
		return nil, err
	}
	if err := a.switchTo(name, n); err != nil {
		return nil, err
	}
	meta.Current = true
	return meta, nil
}

// compose installs the closure into the empty directory dir through the
// transaction entry point and links its files into the store.
func (a *Apps) compose(ctx context.Context, name string, n int, dir string, o InstallOptions) (*Meta, error) {
	for _, d := range []string{"var/lib/grey", "var/lib/dpkg"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			return nil, err
		}
	}
	// An empty root: nothing installed, so the plan is the whole closure.
	pending := o.Pending
	if pending == nil {
		var err error
		pending, err = transaction.Prepare(ctx, nil, o.Index, transaction.ChangeRequest{Request: o.Request, Local: o.Local})
		if err != nil {
			return nil, err
		}
	}
	if o.Prepared != nil {
		if err := o.Prepared(pending); err != nil {
			return nil, err
		}
	}
	plan, err := pending.Download(ctx, o.Download)
	if err != nil {
		return nil, err
	}
	// The .debs the store holds complete need no unpacking (warm.go).
	inodes := map[string]uint64{}
	hints, fromStore, added, err := a.warmPlan(dir, &plan, o.Scripts, inodes)
	defer func() {
		for _, p := range added {
			os.Remove(p)
		}
	}()
	if err != nil {
		return nil, err
	}
	if err := a.hook("downloaded"); err != nil {
		return nil, err
	}
	root, err := transaction.OpenRoot(ctx, dir, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		return nil, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	res, err := transaction.Apply(ctx, root.DB, plan, transaction.Options{
		Root: root.Dir, NoScripts: !o.Scripts, Fresh: !o.Scripts, ScriptOutput: o.ScriptOutput, Sync: o.Sync,
		Now: now, Command: []string{"grey", "app", "install", name},
	})
	if err != nil && res == nil {
		// Refused, nothing changed: the archive cache goes back as it
		// was, as for "grey install".
		pending.Discard()
	}
	if cerr := root.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := a.hook("applied"); err != nil {
		return nil, err
	}
	// The lock records the pid of its last holder: host state.
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(pkgdb.LockPath))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if o.Extras != nil {
		if err := o.Extras(dir); err != nil {
			return nil, err
		}
	}
	if err := mountPoints(dir); err != nil {
		return nil, err
	}
	shared, keys, stamps, err := a.share(ctx, dir, hints, inodes)
	if err != nil {
		return nil, err
	}
	if err := recordModes(dir); err != nil {
		return nil, err
	}
	if err := a.saveManifests(dir, plan, pending.Install, keys); err != nil {
		return nil, err
	}
	if err := a.linkStoreToBlobs(dir); err != nil {
		return nil, fmt.Errorf("link %s's content store to the apps' store: %w", dir, err)
	}
	// What each shared file is as composed, for CheckGeneration.
	if err := writeSeal(a.sealPath(name, n), dir, keys, stamps); err != nil {
		return nil, err
	}
	m := &Meta{Name: name, Generation: n, Requested: o.Requested, Command: o.Command, Spec: o.Spec, Extras: o.ExtrasSum, Created: now().UTC(), SharedFiles: shared, FromStore: fromStore,
		Essential: o.Essential, Scripts: o.Scripts, Recommends: o.Request.Recommends}
	for _, w := range pending.Install {
		m.Packages = append(m.Packages, pkgString(w.Package))
	}
	sort.Strings(m.Packages)
	return m, nil
}

func pkgString(p *deb.Package) string { return p.Name + "=" + p.Version.String() }

// mountPoints makes the directories and files "grey app run" mounts over,
// so that bubblewrap never has to create them in the read-only root.
func mountPoints(dir string) error {
	for _, d := range []string{"proc", "dev", "tmp", "home", "root", "run", "etc"} {
		p := filepath.Join(dir, d)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			mode := os.FileMode(0o755)
			if d == "tmp" {
				mode = 0o1777
			}
			if err := os.Mkdir(p, mode); err != nil {
				return err
			}
			if err := os.Chmod(p, mode); err != nil {
				return err
			}
		}
	}
	rc := filepath.Join(dir, "etc", "resolv.conf")
	if _, err := os.Lstat(rc); errors.Is(err, os.ErrNotExist) {
		return os.WriteFile(rc, nil, 0o644)
	}
	return nil
}

// Switch makes generation gen of name current: one rename, no file of any
// generation touched.
func (a *Apps) Switch(name string, gen int) error {
	if err := checkName(name); err != nil {
		return err
	}
	unlock, err := a.lock(name)
	if err != nil {
		return err
	}
	defer unlock()
	return a.switchTo(name, gen)
}

func (a *Apps) switchTo(name string, gen int) error {
	if _, err := os.Stat(a.Root(name, gen)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &NotFoundError{Name: name, Generation: gen}
		}
		return err
	}
	dir := a.appDir(name)
	tmp := filepath.Join(dir, ".current-new")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("gen", strconv.Itoa(gen)), tmp); err != nil {
		return err
	}
	if err := a.hook("link"); err != nil {
		return err
	}
	// The one step that changes which generation is current.
	if err := os.Rename(tmp, filepath.Join(dir, "current")); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := a.hook("switched"); err != nil {
		return err
	}
	return syncDir(dir)
}

// Current returns the current generation of name.
func (a *Apps) Current(name string) (int, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	t, err := os.Readlink(filepath.Join(a.appDir(name), "current"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, &NotFoundError{Name: name}
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(t, "gen/"))
	if err != nil || !strings.HasPrefix(t, "gen/") {
		return 0, fmt.Errorf("%s: unexpected link target %q", filepath.Join(a.appDir(name), "current"), t)
	}
	return n, nil
}

// CurrentRoot returns the directory of the current generation of name.
func (a *Apps) CurrentRoot(name string) (string, *Meta, error) {
	n, err := a.Current(name)
	if err != nil {
		return "", nil, err
	}
	m, err := a.meta(name, n)
	if err != nil {
		return "", nil, err
	}
	return a.Root(name, n), m, nil
}

// Previous returns the generation before the current one.
func (a *Apps) Previous(name string) (int, error) {
	cur, err := a.Current(name)
	if err != nil {
		return 0, err
	}
	gens, err := a.generations(name)
	if err != nil {
		return 0, err
	}
	prev := 0
	for _, g := range gens {
		if g < cur {
			prev = g
		}
	}
	if prev == 0 {
		return 0, fmt.Errorf("app %s: no generation before %d", name, cur)
	}
	return prev, nil
}

// History returns every complete generation of name, oldest first.
func (a *Apps) History(name string) ([]*Meta, error) {
	cur, err := a.Current(name)
	if err != nil {
		return nil, err
	}
	gens, err := a.generations(name)
	if err != nil {
		return nil, err
	}
	var out []*Meta
	for _, g := range gens {
		m, err := a.meta(name, g)
		if err != nil {
			return nil, err
		}
		m.Current = g == cur
		out = append(out, m)
	}
	return out, nil
}

// List returns the current generation of every app, by name.
func (a *Apps) List() ([]*Meta, error) { return a.list(false) }

// ListSizes is List with each generation's Size measured (a walk of
// every root).
func (a *Apps) ListSizes() ([]*Meta, error) { return a.list(true) }

func (a *Apps) list(sizes bool) ([]*Meta, error) {
	ents, err := os.ReadDir(a.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Meta
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		_, m, err := a.CurrentRoot(e.Name())
		var nf *NotFoundError
		if errors.As(err, &nf) {
			continue // never completed a first generation
		}
		if err != nil {
			return nil, err
		}
		m.Current = true
		if sizes {
			sz, err := SizeOf(a.Root(m.Name, m.Generation))
			if err != nil {
				return nil, err
			}
			m.Size = &sz
		}
		out = append(out, m)
	}
	return out, nil
}

// Remove deletes app name and every generation, then the store objects
// nothing links to any more. The app disappears with one rename.
func (a *Apps) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := os.Stat(a.appDir(name)); errors.Is(err, os.ErrNotExist) {
		return &NotFoundError{Name: name}
	}
	unlock, err := a.lock(name)
	if err != nil {
		return err
	}
	// Its launchers go first: one left behind would only say "no app".
	if _, err := a.removeLaunchers(name); err != nil {
		unlock()
		return err
	}
	if err := a.hook("remove-launchers"); err != nil {
		unlock()
		return err
	}
	gone, err := a.renameAway(name)
	unlock()
	if err != nil {
		return err
	}
	if err := a.hook("remove-renamed"); err != nil {
		return err
	}
	if err := os.RemoveAll(gone); err != nil {
		return err
	}
	if err := a.hook("remove-deleted"); err != nil {
		return err
	}
	_, err = a.PruneStore()
	return err
}

// lockedGenerations takes name's lock and lists its generations under it;
// the caller releases the lock with unlock (on an error it is released).
func (a *Apps) lockedGenerations(name string) (gens []int, unlock func(), err error) {
	if unlock, err = a.lock(name); err != nil {
		return nil, nil, err
	}
	if gens, err = a.generations(name); err != nil {
		unlock()
		return nil, nil, err
	}
	return gens, unlock, nil
}

// generations returns the complete generations of name (gen/N with its
// N.json), ascending.
func (a *Apps) generations(name string) ([]int, error) {
	ents, err := os.ReadDir(a.genDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotFoundError{Name: name}
	}
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() || n <= 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(a.genDir(name), e.Name()+".json")); err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

func (a *Apps) meta(name string, gen int) (*Meta, error) {
	p := filepath.Join(a.genDir(name), strconv.Itoa(gen)+".json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotFoundError{Name: name, Generation: gen}
	}
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// lock takes an exclusive flock on NAME/lock.
func (a *Apps) lock(name string) (func(), error) {
	if err := os.MkdirAll(a.appDir(name), 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(a.appDir(name), "lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	// Remove, and gc of an app that never completed a generation,
	// rename the app's directory away under its lock: a lock then
	// taken on the old file locks nothing, so take it again.
	fi, ferr := f.Stat()
	pi, perr := os.Stat(p)
	if ferr != nil || perr != nil || !os.SameFile(fi, pi) {
		f.Close()
		return a.lock(name)
	}
	return func() { f.Close() }, nil
}

// writeJSON writes v to path durably: temporary file, fsync, rename.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeDurable(path, append(b, '\n'))
}

// writeDurable writes data to path.tmp, syncs it and renames it over path.
func writeDurable(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// GC deletes the generations of name older than the newest keep ones,
// never the current one, then what crashes left (removeLeftovers: a gc
// killed after a generation's N.json left gen/N, and its store objects,
// for good), then the store objects nothing links to. It returns the
// generations it deleted.
func (a *Apps) GC(name string, keep int) ([]int, error) {
	if keep < 1 {
		keep = 1
	}
	if _, err := a.Current(name); err != nil {
		var nf *NotFoundError
		if !errors.As(err, &nf) || !a.madeByGrey(name) {
			return nil, err
		}
	}
	unlock, err := a.lock(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var nf *NotFoundError
	gens, err := a.generations(name)
	if err != nil && !errors.As(err, &nf) {
		return nil, err
	}
	cur, err := a.Current(name) // again, under the lock
	if errors.As(err, &nf) {
		// A first install killed before its "current" link: no
		// generation was ever current, nothing runs it.
		return gens, a.removeIncomplete(name)
	}
	if err != nil {
		return nil, err
	}
	var gone []int
	for i, g := range gens {
		if g == cur || i >= len(gens)-keep {
			continue
		}
		// The metadata goes first: without it the directory is no
		// longer a generation, whatever a crash leaves of it.
		if err := os.Remove(filepath.Join(a.genDir(name), strconv.Itoa(g)+".json")); err != nil {
			return gone, err
		}
		if err := a.hook("gc-meta"); err != nil {
			return gone, err
		}
		if err := os.RemoveAll(a.Root(name, g)); err != nil {
			return gone, err
		}
		if err := a.hook("gc-root"); err != nil {
			return gone, err
		}
		if err := os.Remove(a.sealPath(name, g)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return gone, err
		}
		if err := a.hook("gc-seal"); err != nil {
			return gone, err
		}
		if err := os.RemoveAll(filepath.Join(a.StateDirOf(name), strconv.Itoa(g))); err != nil {
			return gone, err
		}
		if err := a.hook("gc-generation"); err != nil {
			return gone, err
		}
		gone = append(gone, g)
	}
	if err := a.removeLeftovers(name, cur); err != nil {
		return gone, err
	}
	if _, err := a.PruneStore(); err != nil {
		return gone, err
	}
	return gone, nil
}

// renameAway renames the directory of app name, whose lock the caller
// holds, to .removed-NAME-T and syncs the apps directory: after that one
// rename the app is gone, and PruneStore deletes whatever of it a crash
// leaves. It returns the new path.
func (a *Apps) renameAway(name string) (string, error) {
	gone := filepath.Join(a.Dir, fmt.Sprintf(".removed-%s-%d", name, time.Now().UnixNano()))
	if err := os.Rename(a.appDir(name), gone); err != nil {
		return "", err
	}
	return gone, syncDir(a.Dir)
}

// removeIncomplete removes, under its lock, the directory of app name
// that has no current generation (a first install killed before its
// switch), as Remove does, and the store objects only it used.
func (a *Apps) removeIncomplete(name string) error {
	gone, err := a.renameAway(name)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(gone); err != nil {
		return err
	}
	_, err = a.PruneStore()
	return err
}

// madeByGrey says whether the directory of app name is one an install
// made (it has its lock file or gen/): gc removes no other directory
// that has no current generation.
func (a *Apps) madeByGrey(name string) bool {
	for _, p := range []string{"lock", "gen"} {
		if _, err := os.Lstat(filepath.Join(a.appDir(name), p)); err == nil {
			return true
		}
	}
	return false
}

// Names returns every app directory's name, including apps that never
// completed a first generation (List leaves those out).
func (a *Apps) Names() ([]string, error) {
	ents, err := os.ReadDir(a.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && checkName(e.Name()) == nil && a.madeByGrey(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// removeLeftovers removes, under name's lock, what a crash left in its
// directory: half-made generations (gen/.new-N), whatever belongs to a
// generation number that is not complete (gen/N without N.json, as a gc
// killed after removing the metadata leaves it; N.json or N.seal without
// gen/N; N.json.tmp) and its private state, and a link made beside
// "current" that was never renamed over it. Each of these holds links to
// store objects or is never read again; a generation that is complete,
// and the current one, are never touched. (Half-made states of "app
// run", state/.new-*, are not removed: a run may be making one.)
func (a *Apps) removeLeftovers(name string, cur int) error {
	dir := a.genDir(name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, e := range ents {
		has[e.Name()] = true
	}
	complete := func(n string) bool {
		g, err := strconv.Atoi(n)
		return err == nil && (g == cur || has[n] && has[n+".json"])
	}
	for _, e := range ents {
		base, _, _ := strings.Cut(e.Name(), ".")
		_, numbered := strconv.Atoi(base)
		if strings.HasPrefix(e.Name(), ".new-") || numbered == nil && (!complete(base) || strings.HasSuffix(e.Name(), ".tmp")) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	states, err := os.ReadDir(a.StateDirOf(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range states {
		// Only numbered ones: "app run" (without the lock) makes a
		// state in a .new-* directory renamed into place.
		if _, err := strconv.Atoi(e.Name()); err == nil && !complete(e.Name()) {
			if err := os.RemoveAll(filepath.Join(a.StateDirOf(name), e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(filepath.Join(a.appDir(name), ".current-new")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
