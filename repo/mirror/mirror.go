// Package mirror keeps a verified copy of Debian archives: grey mirror.
//
// A mirror is a directory that any static web server can serve:
//
//	dists/SUITE/...          the current metadata, as upstream signed it (or
//	                         filtered and signed by the mirror's own key)
//	pool/...                 every .deb the metadata names, stored once
//	snapshots/TAG/dists/...  a tagged state's metadata
//	snapshots/TAG/pool       a link to ../../pool
//	.git/                    the history of dists/, one commit per sync
//	.grey-mirror/            the configuration, the sync state, staging
//
// Sync verifies each source's Release exactly as grey update does
// (repo.VerifyRelease: signature, Valid-Until, no rollback), fetches every
// index it lists for the chosen components and architectures and every
// pool file they name, each checked against its size and SHA256, into a
// staging folder, so that an interrupted sync continues where it stopped.
// Only then is the served tree changed, through a Storage, in the order
// pool, by-hash, indexes, Release, InRelease: a client holding the old
// InRelease finds its indexes by hash, one with the new finds everything
// it names. Then dists/ is committed to git (go-git).
//
// With Packages set, a mirror holds only those packages and what they
// depend on (the closure over the full index), in filtered Packages files
// signed by the mirror's own key.
package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/greypm/grey/internal/atomicfile"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/repo/storage"
	"golang.org/x/sys/unix"
)

// MetaDir is the mirror's private folder inside its directory: never
// served content.
const MetaDir = ".grey-mirror"

// RegistryDir is where a root records its mirrors by name (NAME.json).
const RegistryDir = "etc/grey/mirrors"

// DefaultDirIn is where a mirror lives when create is given no --dir:
// ROOT/var/lib/grey/mirrors/NAME.
const DefaultDirIn = "var/lib/grey/mirrors"

// Closure modes of a filtered mirror.
const (
	// AllAlternatives follows every alternative and every provider of
	// each dependency: whatever a client could choose is there.
	AllAlternatives = "all"
	// Preferred keeps what the resolver installs for the list, the
	// alternatives apt would pick.
	Preferred = "preferred"
)

// Config is a mirror's definition, kept in .grey-mirror/config.json.
type Config struct {
	Name string `json:"name"`
	// Sources are one-line source entries ("deb [signed-by=K] URI SUITE
	// main"), each mirrored to dists/SUITE.
	Sources []string `json:"sources"`
	// Architectures to mirror; empty: each source's arch option, else
	// the host's.
	Architectures []string `json:"architectures,omitempty"`
	// Components to mirror; empty: those each source names.
	Components []string `json:"components,omitempty"`
	// Packages, when set, makes a filtered mirror: only these packages,
	// with WithDeps their dependency closure (Recommends too with
	// Recommends), in Closure mode.
	Packages   []string `json:"packages,omitempty"`
	WithDeps   bool     `json:"with_deps,omitempty"`
	Recommends bool     `json:"recommends,omitempty"`
	Closure    string   `json:"closure,omitempty"`
	// Key is the armored secret key (grey key generate) that signs a
	// filtered mirror's Release files.
	Key string `json:"key,omitempty"`
	// AllowMissing tolerates pool files the upstream does not have (an
	// upstream that is itself a partial copy): they are counted, not
	// fetched.
	AllowMissing bool `json:"allow_missing,omitempty"`
	// Target, when set, is where the served tree is published instead of
	// the mirror's directory: an object store (s3://BUCKET/PREFIX, see
	// storage.ParseS3URL). The directory keeps the mirror's own state,
	// staging and the git history of dists/ (a copy of the metadata, not
	// the pool).
	Target string `json:"target,omitempty"`
}

// Filtered reports whether the mirror holds a selection of packages.
func (c *Config) Filtered() bool { return len(c.Packages) > 0 }

// Mirror is an opened mirror directory.
type Mirror struct {
	Dir    string
	Config Config
	// Storage is where the served tree is written: Dir{Dir}, or with a
	// Target the object store with dists/ copied into Dir for git.
	Storage Storage
}

func (m *Mirror) meta(parts ...string) string {
	return filepath.Join(append([]string{m.Dir, MetaDir}, parts...)...)
}

// ParsedSources returns the configured sources.
func (c *Config) ParsedSources() ([]*sources.Source, error) {
	var out []*sources.Source
	seen := map[string]string{}
	for _, line := range c.Sources {
		s, err := sources.Parse(line)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: source %q: %w", c.Name, line, err)
		}
		if !s.IsBinary() {
			return nil, fmt.Errorf("mirror %s: source %q: only binary (deb) sources are mirrored", c.Name, line)
		}
		if s.Flat {
			return nil, fmt.Errorf("mirror %s: source %q: flat repositories are not mirrored", c.Name, line)
		}
		if strings.Contains(s.Suite, "$(") || !validSegment(s.Suite) {
			return nil, fmt.Errorf("mirror %s: source %q: suite %q cannot name a folder", c.Name, line, s.Suite)
		}
		for _, sb := range s.SignedBy {
			if !filepath.IsAbs(sb) && !isHex(strings.TrimSuffix(sb, "!")) {
				return nil, fmt.Errorf("mirror %s: source %q: signed-by %q must be an absolute path (a mirror is synced from any directory)", c.Name, line, sb)
			}
		}
		if prev, ok := seen[s.Suite]; ok {
			return nil, fmt.Errorf("mirror %s: sources %q and %q both serve dists/%s", c.Name, prev, line, s.Suite)
		}
		seen[s.Suite] = line
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mirror %s: no sources", c.Name)
	}
	return out, nil
}

func validSegment(s string) bool {
	if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".+-_~", r)) {
			return false
		}
	}
	return true
}

func (c *Config) check() error {
	if !validSegment(c.Name) {
		return fmt.Errorf("invalid mirror name %q (letters, digits, '.', '+', '-', '_')", c.Name)
	}
	if _, err := c.ParsedSources(); err != nil {
		return err
	}
	switch c.Closure {
	case "", AllAlternatives, Preferred:
	default:
		return fmt.Errorf("mirror %s: closure %q: want %q or %q", c.Name, c.Closure, AllAlternatives, Preferred)
	}
	if !c.Filtered() && (c.WithDeps || c.Recommends) {
		return fmt.Errorf("mirror %s: --with-deps and --recommends need --packages", c.Name)
	}
	if c.Target != "" && !storage.IsURL(c.Target) {
		return fmt.Errorf("mirror %s: target %q is not an object store URL (s3://BUCKET/PREFIX)", c.Name, c.Target)
	}
	if c.Filtered() && c.Key == "" {
		return fmt.Errorf("mirror %s: a filtered mirror is re-signed: give --key (a secret key from grey key generate)", c.Name)
	}
	for _, a := range c.Architectures {
		if !validSegment(a) || a == "all" {
			return fmt.Errorf("mirror %s: invalid architecture %q", c.Name, a)
		}
	}
	for _, comp := range c.Components {
		if !validSegment(comp) {
			return fmt.Errorf("mirror %s: invalid component %q", c.Name, comp)
		}
	}
	return nil
}

// registryEntry is ROOT/etc/grey/mirrors/NAME.json.
type registryEntry struct {
	// Dir is absolute, or relative to the root.
	Dir string `json:"dir"`
}

// ErrExists reports a mirror name or directory already in use.
var ErrExists = errors.New("mirror already exists")

// ErrUnknown reports a mirror name the root does not know.
var ErrUnknown = errors.New("no such mirror")

// Create makes a new mirror in dir (ROOT/var/lib/grey/mirrors/NAME when
// empty) and records it under its name in root. Nothing is fetched. A dir
// that is an object store's URL (s3://BUCKET/PREFIX) becomes the mirror's
// Target, with its state in the default directory.
func Create(root, dir string, c Config) (*Mirror, error) {
	if storage.IsURL(dir) {
		c.Target, dir = dir, ""
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Key != "" {
		abs, err := filepath.Abs(c.Key)
		if err != nil {
			return nil, err
		}
		c.Key = abs
	}
	reg := filepath.Join(root, RegistryDir, c.Name+".json")
	if _, err := os.Stat(reg); err == nil {
		return nil, fmt.Errorf("mirror %s: %w (%s)", c.Name, ErrExists, reg)
	}
	if dir == "" {
		dir = filepath.Join(root, DefaultDirIn, c.Name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, MetaDir, "config.json")); err == nil {
		return nil, fmt.Errorf("mirror %s: %w: %s holds a mirror", c.Name, ErrExists, dir)
	}
	m := &Mirror{Dir: dir, Config: c}
	if err := m.openStorage(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.meta(), 0o755); err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", c.Name, err)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(m.meta("config.json"), append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", c.Name, err)
	}
	if err := initGit(dir); err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", c.Name, err)
	}
	// A mirror inside the root is recorded relative to it, so that the
	// root can move.
	rec := dir
	if absRoot, err := filepath.Abs(root); err == nil {
		if rel, err := filepath.Rel(absRoot, dir); err == nil && filepath.IsLocal(rel) {
			rec = rel
		}
	}
	data, _ = json.Marshal(registryEntry{Dir: rec})
	if err := os.MkdirAll(filepath.Dir(reg), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(reg, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("create mirror %s: %w", c.Name, err)
	}
	return m, nil
}

// Open opens the mirror root knows as name.
func Open(root, name string) (*Mirror, error) {
	if !validSegment(name) {
		return nil, fmt.Errorf("invalid mirror name %q", name)
	}
	reg := filepath.Join(root, RegistryDir, name+".json")
	data, err := os.ReadFile(reg)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("mirror %s: %w (create it with grey mirror create)", name, ErrUnknown)
	}
	if err != nil {
		return nil, err
	}
	var e registryEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Dir == "" {
		return nil, fmt.Errorf("read %s: not a mirror record", reg)
	}
	if !filepath.IsAbs(e.Dir) {
		e.Dir = filepath.Join(root, e.Dir)
	}
	return OpenDir(e.Dir)
}

// OpenDir opens the mirror in dir.
func OpenDir(dir string) (*Mirror, error) {
	p := filepath.Join(dir, MetaDir, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	m := &Mirror{Dir: dir}
	if err := json.Unmarshal(data, &m.Config); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if err := m.Config.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if err := m.openStorage(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return m, nil
}

// suiteState is what the mirror last published for one suite.
type suiteState struct {
	// Upstream is the SHA256 of the upstream file the Release came from
	// (InRelease, or Release), Signature that of Release.gpg.
	Upstream string `json:"upstream"`
	// Date is the upstream Release's Date: a later sync refuses an older
	// one (a rollback).
	Date time.Time `json:"date"`
	// Filter identifies the selection a filtered suite was made with.
	Filter string `json:"filter,omitempty"`
	// Files are the dists/ names the published Release lists (by-hash
	// included), for gc.
	Files []string `json:"files,omitempty"`
}

// state is .grey-mirror/state.json.
type state struct {
	Suites map[string]*suiteState `json:"suites"`
	// Committed is false while dists/ holds a state git has not recorded.
	Committed bool `json:"committed"`
}

func (m *Mirror) loadState() (*state, error) {
	st := &state{Suites: map[string]*suiteState{}, Committed: true}
	data, err := os.ReadFile(m.meta("state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read %s: %w", m.meta("state.json"), err)
	}
	if st.Suites == nil {
		st.Suites = map[string]*suiteState{}
	}
	return st, nil
}

func (m *Mirror) saveState(st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(m.meta("state.json"), append(data, '\n'), 0o644)
}

// ErrLocked reports another sync or gc of the same mirror.
var ErrLocked = errors.New("another grey process holds the mirror's lock")

// lock takes the mirror's exclusive lock.
func (m *Mirror) lock() (func(), error) {
	if err := os.MkdirAll(m.meta(), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(m.meta("lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("mirror %s: %w", m.Config.Name, ErrLocked)
	}
	return func() { f.Close() }, nil
}

// poolName checks a Filename from an index: a relative path that cannot
// reach the mirror's own files.
func poolName(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, "\\") {
		return fmt.Errorf("invalid Filename %q", name)
	}
	first, _, _ := strings.Cut(name, "/")
	if slices.Contains([]string{"dists", "snapshots", ".git", MetaDir}, first) || strings.HasPrefix(first, ".") {
		return fmt.Errorf("index names %q as a Filename: it would overwrite the mirror's own files", name)
	}
	return nil
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}
