// Package publish writes a signed Debian repository that apt (and grey)
// can use: the pool of .deb files in Debian's layout, Packages indexes
// (plain, gzip and xz), a Release file with MD5Sum and SHA256 lists, its
// clearsigned InRelease and detached Release.gpg, and by-hash copies of
// every index so that clients never see an index that does not match the
// Release they hold.
//
// Publishing is declarative: the .deb files given for a suite are its whole
// content, so a republish adds what is new and drops what is no longer
// given. What previous publishes wrote is remembered in a small state file
// (.grey-publish.json in the repository root), one entry per generation,
// which says which pool and by-hash files each generation references; a
// file is deleted only when no retained generation of any suite in the
// repository references it, so a client halfway through an update with the
// previous InRelease still finds every file it names.
//
// Files are written in an order that keeps the published repository
// consistent at every instant: pool files, then by-hash files, then the
// plain index names, then the state, then Release, Release.gpg and, last,
// InRelease; every file is written under a temporary name and renamed into
// place. Deletions happen only after the new InRelease is in place. The
// output depends only on the inputs, the options and the clock: publishing
// the same files at the same time gives byte-identical repositories.
package publish

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/storage"
)

// ControlReader reads the control stanza of the .deb in r; name identifies
// it in errors.
type ControlReader func(r io.Reader, name string) (*control.Stanza, error)

// Component is one component of a suite ("main") and the .deb files, or
// directories searched for *.deb files, that make up its whole content.
type Component struct {
	Name   string
	Inputs []string
}

// DefaultKeep is the number of generations of each suite whose files are
// kept: the current one and two before it, so a client that fetched an
// InRelease just before a publish (or two quick publishes) can finish.
const DefaultKeep = 3

// Options describe one suite to publish.
type Options struct {
	// Key signs InRelease and Release.gpg.
	Key *key.Key
	// Suite is the distribution name clients put in their sources
	// ("stable"); Codename defaults to it.
	Suite    string
	Codename string
	// Origin, Label and Description are optional Release fields; apt's
	// pinning can select on Origin and Label.
	Origin, Label, Description string
	// Components and their inputs; at least one.
	Components []Component
	// Architectures published (for example "amd64"); packages of
	// architecture "all" go into every one of their indexes, as in Debian.
	Architectures []string
	// Date is the Release date and the signature time: the caller's clock,
	// so tests and reproducible builds can fix it.
	Date time.Time
	// ValidFor, when positive, sets Valid-Until to Date+ValidFor: clients
	// then refuse the Release after that instant, which stops a mirror or
	// attacker from serving a frozen repository forever; the repository
	// must be republished (re-signed) before then.
	ValidFor time.Duration
	// Keep is the number of generations of the suite whose files are kept
	// (DefaultKeep when 0); at least 2, so the previous generation survives.
	Keep int
	// ReadControl reads a .deb's control stanza; nil uses deb/archive.
	ReadControl ControlReader
}

// IndexSummary describes one published Packages index.
type IndexSummary struct {
	Component    string `json:"component"`
	Architecture string `json:"architecture"`
	Packages     int    `json:"packages"`
}

// Result reports what a publish did.
type Result struct {
	// Release is the path of the suite's InRelease in the repository.
	Release string `json:"release"`
	// Indexes lists the Packages indexes, sorted by component then
	// architecture.
	Indexes []IndexSummary `json:"indexes"`
	// Packages is the number of distinct .deb files in the suite.
	Packages int `json:"packages"`
	// Added and Removed are the pool paths that entered and left the
	// suite compared with its previous generation.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// Deleted are the files removed because no retained generation of any
	// suite references them any more.
	Deleted []string `json:"deleted"`
	// Unchanged is true when the Release is byte-identical to the one
	// already published (same content, same date): no new generation.
	Unchanged bool `json:"unchanged"`
}

// Publish writes the suite described by opts into st. See the package
// documentation for the order of writes and what a republish keeps.
func Publish(ctx context.Context, st Storage, opts Options) (*Result, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	keep := opts.Keep
	if keep == 0 {
		keep = DefaultKeep
	}
	readControl := opts.ReadControl
	if readControl == nil {
		readControl = archiveControl
	}
	archs := slices.Clone(opts.Architectures)
	sort.Strings(archs)
	archs = slices.Compact(archs)
	date := opts.Date.UTC().Truncate(time.Second)

	// Read and check every input before anything is written.
	var all []*pkg
	for _, c := range opts.Components {
		paths, err := expandInputs(ctx, c.Inputs)
		if err != nil {
			return nil, err
		}
		for _, path := range paths {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			p, err := readPackage(path, c.Name, archs, readControl)
			if err != nil {
				return nil, err
			}
			all = append(all, p)
		}
	}
	all, err := dedupe(all)
	if err != nil {
		return nil, err
	}

	unlock, err := st.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	state, err := loadState(ctx, st)
	if err != nil {
		return nil, err
	}
	have, err := newPresence(ctx, st)
	if err != nil {
		return nil, err
	}
	if err := checkPool(ctx, have, state, all); err != nil {
		return nil, err
	}

	// Build every index in memory: they are small next to the pool.
	dists := "dists/" + opts.Suite
	var files []indexFile
	res := &Result{Release: dists + "/InRelease", Packages: len(all)}
	comps := componentNames(opts.Components)
	for _, comp := range comps {
		for _, arch := range archs {
			var ps []*pkg
			for _, p := range all {
				if p.component == comp && (p.arch == arch || p.arch == "all") {
					ps = append(ps, p)
				}
			}
			sortPackages(ps)
			plain, err := renderPackages(ps)
			if err != nil {
				return nil, err
			}
			rel := comp + "/binary-" + arch + "/Packages"
			idx, err := compressed(rel, plain)
			if err != nil {
				return nil, err
			}
			files = append(files, idx...)
			res.Indexes = append(res.Indexes, IndexSummary{Component: comp, Architecture: arch, Packages: len(ps)})
		}
	}
	release := renderRelease(opts, date, archs, comps, files)

	// The generation's files: what a client holding this Release may fetch.
	gen := generation{Suite: opts.Suite, Date: formatDate(date), Release: sha256Hex(release)}
	for _, p := range all {
		gen.Files = append(gen.Files, p.pool)
	}
	for _, f := range files {
		dir := dists + "/" + pathDir(f.rel)
		gen.Files = append(gen.Files, dists+"/"+f.rel, dir+"/by-hash/MD5Sum/"+f.md5, dir+"/by-hash/SHA256/"+f.sha256)
	}
	sort.Strings(gen.Files)
	gen.Files = slices.Compact(gen.Files)

	prev := state.latest(opts.Suite)
	if prev != nil {
		res.Added, res.Removed = poolDiff(prev.Files, gen.Files)
		res.Unchanged = prev.Release == gen.Release && slices.Equal(prev.Files, gen.Files)
	} else {
		res.Added, _ = poolDiff(nil, gen.Files)
	}

	// 1. The pool.
	for _, p := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.present {
			continue
		}
		if err := putFile(ctx, st, p.pool, p.src, p.size, p.sha256); err != nil {
			return nil, err
		}
	}
	// 2. by-hash copies, then 3. the plain names.
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := dists + "/" + pathDir(f.rel)
		for _, name := range []string{dir + "/by-hash/MD5Sum/" + f.md5, dir + "/by-hash/SHA256/" + f.sha256} {
			sum := storage.SumBytes(f.data)
			if ok, err := have.has(ctx, name, sum, f.md5); err != nil {
				return nil, err
			} else if ok {
				continue
			}
			if err := st.Put(ctx, name, bytes.NewReader(f.data), sum); err != nil {
				return nil, err
			}
		}
	}
	// An index whose content did not change (another architecture's) is
	// not uploaded again: one HEAD instead of a PUT in a bucket.
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, sum := dists+"/"+f.rel, storage.SumBytes(f.data)
		if ok, err := have.has(ctx, name, sum, f.md5); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		if err := st.Put(ctx, name, bytes.NewReader(f.data), sum); err != nil {
			return nil, err
		}
	}
	// 4. The state, once everything it records is durable, and before the
	// Release, so that a crash between the two leaves every file the new
	// Release names on record.
	if err := st.Sync(ctx); err != nil {
		return nil, err
	}
	if !res.Unchanged {
		state.Generations = append(state.Generations, gen)
	}
	if err := saveState(ctx, st, state); err != nil {
		return nil, err
	}
	if err := st.Sync(ctx); err != nil {
		return nil, err
	}
	// 5. Release, Release.gpg, and InRelease last: apt prefers InRelease,
	// and it is one file, so its rename is the instant the publish happens.
	var inRelease, detached bytes.Buffer
	if err := opts.Key.ClearSign(&inRelease, release, date); err != nil {
		return nil, err
	}
	if err := opts.Key.DetachSign(&detached, release, date); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{dists + "/Release", release},
		{dists + "/Release.gpg", detached.Bytes()},
		{dists + "/InRelease", inRelease.Bytes()},
	} {
		if err := st.Put(ctx, f.name, bytes.NewReader(f.data), storage.SumBytes(f.data)); err != nil {
			return nil, err
		}
	}
	if err := st.Sync(ctx); err != nil {
		return nil, err
	}
	// 6. Forget old generations and delete what none still references.
	deleted, err := collect(ctx, st, state, keep)
	res.Deleted = deleted
	if err != nil {
		return res, err
	}
	return res, nil
}

func (o *Options) check() error {
	if o.Key == nil {
		return errors.New("publish: a signing key is required")
	}
	if !validName(o.Suite) {
		return fmt.Errorf("publish: invalid suite name %q (letters, digits, '.', '_', '-')", o.Suite)
	}
	if o.Codename == "" {
		o.Codename = o.Suite
	}
	if !validName(o.Codename) {
		return fmt.Errorf("publish: invalid codename %q", o.Codename)
	}
	for _, f := range []struct{ name, v string }{{"origin", o.Origin}, {"label", o.Label}, {"description", o.Description}} {
		if strings.ContainsAny(f.v, "\n\r") || f.v != strings.TrimSpace(f.v) {
			return fmt.Errorf("publish: %s %q must be one line without surrounding blanks", f.name, f.v)
		}
	}
	if len(o.Components) == 0 {
		return errors.New("publish: at least one component is required")
	}
	seen := map[string]bool{}
	for _, c := range o.Components {
		if !validName(c.Name) {
			return fmt.Errorf("publish: invalid component name %q", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("publish: component %q given twice", c.Name)
		}
		seen[c.Name] = true
	}
	if len(o.Architectures) == 0 {
		return errors.New("publish: at least one architecture is required")
	}
	for _, a := range o.Architectures {
		if !validArch(a) || a == "all" {
			return fmt.Errorf("publish: invalid architecture %q (packages of architecture all go into every index)", a)
		}
	}
	if o.Date.IsZero() {
		return errors.New("publish: a date is required")
	}
	if o.ValidFor < 0 {
		return fmt.Errorf("publish: negative validity %s", o.ValidFor)
	}
	if o.Keep != 0 && o.Keep < 2 {
		return fmt.Errorf("publish: keep %d generations: at least 2, so the previous one survives for clients reading it", o.Keep)
	}
	return nil
}

// validName accepts suite, codename and component names: no slashes, so a
// name is one directory and cannot climb out of dists/.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}

func componentNames(cs []Component) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names
}

// DuplicateError reports two different files for one package.
type DuplicateError struct {
	Package, Version, Architecture string
	Paths                          [2]string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s and %s are both %s %s (%s) but differ; give one of them", e.Paths[0], e.Paths[1], e.Package, e.Version, e.Architecture)
}

// dedupe drops identical copies of one file and refuses two different files
// for the same package, version and architecture in one component (or the
// same pool path): an index may list a package once, and a client that
// cached one of them would reject the other.
func dedupe(all []*pkg) ([]*pkg, error) {
	byKey := map[string]*pkg{}
	var out []*pkg
	for _, p := range all {
		k := p.component + "\x00" + p.name + "\x00" + p.version.String() + "\x00" + p.arch
		for _, key := range []string{k, p.pool} {
			if q, ok := byKey[key]; ok && q.sha256 != p.sha256 {
				return nil, &DuplicateError{p.name, p.version.String(), p.arch, [2]string{q.src, p.src}}
			}
		}
		if _, ok := byKey[k]; ok {
			continue
		}
		if _, ok := byKey[p.pool]; ok {
			continue
		}
		byKey[k], byKey[p.pool] = p, p
		out = append(out, p)
	}
	return out, nil
}

// PoolConflictError reports a pool file that already holds different
// content than the .deb to publish at its path: the same package version
// was rebuilt. Clients may have the old one's hash cached, so the archive
// refuses it, as Debian's does; bump the version instead.
type PoolConflictError struct {
	Pool, Input string
}

func (e *PoolConflictError) Error() string {
	return fmt.Sprintf("%s already holds a different file than %s (same package, version and architecture): bump the version", e.Pool, e.Input)
}

// checkPool marks the packages whose pool file is already in place and
// refuses any whose path holds different content that a recorded
// generation published. A different file no generation records is
// replaced: it is what a crash left before the publish that wrote it
// became durable, or a stray file no client of this repository was told of.
func checkPool(ctx context.Context, have presence, s *state, all []*pkg) error {
	st := have.st
	recorded := map[string]bool{}
	for _, g := range s.Generations {
		for _, f := range g.Files {
			recorded[f] = true
		}
	}
	for _, p := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := have.has(ctx, p.pool, storage.Sum{Size: p.size, SHA256: p.sha256}, p.md5)
		if err != nil {
			return err
		}
		if ok {
			p.present = true
			continue
		}
		if !recorded[p.pool] {
			continue
		}
		// Recorded but not this file: a conflict, unless it is missing.
		r, err := st.Open(ctx, p.pool)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		r.Close()
		return &PoolConflictError{Pool: p.pool, Input: p.src}
	}
	return nil
}

// presence answers "does name already hold this content" for a publish,
// which holds the tree's lock: from one listing of the tree taken at the
// start where the storage gives one (a bucket: a name not listed is
// absent, a name listed with the same size and MD5 is present, without
// a request each), else, and for a listed object whose MD5 the listing
// does not give or does not match, by Exists (the SHA256).
type presence struct {
	st  Storage
	inv map[string]storage.ObjectInfo // nil: no listing
}

func newPresence(ctx context.Context, st Storage) (presence, error) {
	inv, ok := st.(storage.Inventory)
	if !ok {
		return presence{st: st}, nil
	}
	m, err := inv.Inventory(ctx, "")
	if err != nil {
		return presence{}, err
	}
	return presence{st: st, inv: m}, nil
}

func (p presence) has(ctx context.Context, name string, sum storage.Sum, md5 string) (bool, error) {
	if p.inv != nil {
		o, ok := p.inv[name]
		if !ok || o.Size != sum.Size {
			return false, nil
		}
		if o.MD5 != "" && o.MD5 == md5 {
			return true, nil
		}
	}
	return p.st.Exists(ctx, name, sum)
}

func putFile(ctx context.Context, st Storage, name, src string, size int64, sum string) error {
	f, err := openInput(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return st.Put(ctx, name, f, storage.Sum{Size: size, SHA256: sum})
}

// indexFile is one file listed in the Release.
type indexFile struct {
	rel    string // relative to dists/SUITE
	data   []byte
	md5    string
	sha256 string
}

func newIndexFile(rel string, data []byte) indexFile {
	m := md5.Sum(data)
	return indexFile{rel: rel, data: data, md5: hex.EncodeToString(m[:]), sha256: sha256Hex(data)}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// compressed returns the plain index and its .gz and .xz forms.
func compressed(rel string, plain []byte) ([]indexFile, error) {
	out := []indexFile{newIndexFile(rel, plain)}
	for _, c := range []struct {
		ext string
		f   compress.Format
	}{{".gz", compress.Gzip}, {".xz", compress.Xz}} {
		var buf bytes.Buffer
		w, err := compress.NewWriter(&buf, c.f)
		if err != nil {
			return nil, fmt.Errorf("compress %s%s: %w", rel, c.ext, err)
		}
		if _, err := w.Write(plain); err != nil {
			return nil, fmt.Errorf("compress %s%s: %w", rel, c.ext, err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compress %s%s: %w", rel, c.ext, err)
		}
		out = append(out, newIndexFile(rel+c.ext, buf.Bytes()))
	}
	return out, nil
}

func pathDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return "."
}

// releaseDate is the format of Date and Valid-Until in Debian's Release
// files: RFC 2822 with the zone spelled "UTC".
const releaseDate = "Mon, 02 Jan 2006 15:04:05 UTC"

func formatDate(t time.Time) string { return t.UTC().Format(releaseDate) }

// renderRelease writes the Release file, its fields in dpkg's order for
// Release files (Dpkg::Control::FieldsCore, CTRL_REPO_RELEASE), which is
// also the order of Debian's own.
func renderRelease(o Options, date time.Time, archs, comps []string, files []indexFile) []byte {
	var b strings.Builder
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, value)
		}
	}
	field("Origin", o.Origin)
	field("Label", o.Label)
	field("Suite", o.Suite)
	field("Codename", o.Codename)
	field("Date", formatDate(date))
	if o.ValidFor > 0 {
		field("Valid-Until", formatDate(date.Add(o.ValidFor)))
	}
	field("Acquire-By-Hash", "yes")
	field("Architectures", strings.Join(archs, " "))
	field("Components", strings.Join(comps, " "))
	field("Description", o.Description)
	sorted := slices.Clone(files)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].rel < sorted[j].rel })
	b.WriteString("MD5Sum:\n")
	for _, f := range sorted {
		fmt.Fprintf(&b, " %s %8d %s\n", f.md5, len(f.data), f.rel)
	}
	b.WriteString("SHA256:\n")
	for _, f := range sorted {
		fmt.Fprintf(&b, " %s %8d %s\n", f.sha256, len(f.data), f.rel)
	}
	return []byte(b.String())
}

// poolDiff returns the pool paths in next but not prev, and in prev but
// not next.
func poolDiff(prev, next []string) (added, removed []string) {
	isPool := func(s string) bool { return strings.HasPrefix(s, "pool/") }
	in := func(list []string, s string) bool {
		_, ok := slices.BinarySearch(list, s)
		return ok
	}
	for _, f := range next {
		if isPool(f) && !in(prev, f) {
			added = append(added, f)
		}
	}
	for _, f := range prev {
		if isPool(f) && !in(next, f) {
			removed = append(removed, f)
		}
	}
	return added, removed
}
