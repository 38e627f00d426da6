package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/internal/atomicfile"
	"github.com/greypm/grey/transaction"
)

// LockVersion is the format version of lock files this package writes.
const LockVersion = 1

// Lock pins every package of an image: a build from a lock installs exactly
// these files, checked by size and SHA256, without reading any index.
type Lock struct {
	Version int `json:"version"`
	// Request is what the spec asked for when the lock was made; a build
	// from the lock refuses a spec that asks for something else.
	Request Request `json:"request"`
	// Sources are the sources the packages were resolved from.
	Sources []LockedSource `json:"sources"`
	// Packages are sorted by name, then architecture.
	Packages []LockedPackage `json:"packages"`
}

// Request is the part of a spec that decides the package set.
type Request struct {
	Architecture string   `json:"architecture"`
	Packages     []string `json:"packages"`
	Recommends   bool     `json:"recommends"`
	Essential    bool     `json:"essential"`
}

// LockedSource is one source of a lock, with what its verified Release said.
type LockedSource struct {
	ID    string `json:"id"`
	Line  string `json:"line"`
	Date  string `json:"date,omitempty"`
	Suite string `json:"suite"`
	// Signer is the key that signed the Release.
	Signer string `json:"signer,omitempty"`
}

// LockedPackage is one pinned .deb.
type LockedPackage struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	// Source is the ID of the source it came from; URL is where the file
	// is fetched.
	Source   string `json:"source"`
	URL      string `json:"url"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	// Auto is true for a package installed only as a dependency.
	Auto bool `json:"auto,omitempty"`
}

// RequestOf is the part of s that a lock records.
func RequestOf(s *Spec) Request {
	pk := slices.Clone(s.Packages)
	sort.Strings(pk)
	return Request{Architecture: s.Architecture, Packages: pk, Recommends: s.Recommends, Essential: s.Essential}
}

// StaleError says a lock does not match its spec any more.
type StaleError struct {
	Lock string
	What string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("%s is stale: %s (run grey image lock)", e.Lock, e.What)
}

// CheckFresh reports, as a *StaleError, how the spec asks for something
// other than what lock was made for; lockPath names the lock in the error.
func (l *Lock) CheckFresh(s *Spec, lockPath string) error {
	want := RequestOf(s)
	switch {
	case want.Architecture != l.Request.Architecture:
		return &StaleError{lockPath, fmt.Sprintf("the spec asks for architecture %s, the lock has %s", want.Architecture, l.Request.Architecture)}
	case !slices.Equal(want.Packages, l.Request.Packages):
		return &StaleError{lockPath, fmt.Sprintf("the spec asks for packages [%s], the lock was made for [%s]", strings.Join(want.Packages, " "), strings.Join(l.Request.Packages, " "))}
	case want.Recommends != l.Request.Recommends:
		return &StaleError{lockPath, fmt.Sprintf("recommends is %t in the spec, %t in the lock", want.Recommends, l.Request.Recommends)}
	case want.Essential != l.Request.Essential:
		return &StaleError{lockPath, fmt.Sprintf("essential is %t in the spec, %t in the lock", want.Essential, l.Request.Essential)}
	}
	return nil
}

// Marshal encodes the lock as indented JSON, packages sorted, so that the
// same resolution always gives the same bytes and a diff reads well.
func (l *Lock) Marshal() ([]byte, error) {
	c := *l
	c.Packages = slices.Clone(l.Packages)
	sortPackages(c.Packages)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sortPackages(p []LockedPackage) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Name != p[j].Name {
			return p[i].Name < p[j].Name
		}
		return p[i].Architecture < p[j].Architecture
	})
}

// ParseLock decodes a lock; file names it in errors. Unknown fields and
// packages without a hash are refused: a lock is a security boundary.
func ParseLock(data []byte, file string) (*Lock, error) {
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s: lock format version %d, this grey reads %d", file, l.Version, LockVersion)
	}
	seen := map[string]bool{}
	for i, p := range l.Packages {
		switch {
		case p.Name == "" || p.Version == "" || p.Architecture == "":
			return nil, fmt.Errorf("%s: packages[%d]: name, version and architecture are required", file, i)
		case len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "":
			return nil, fmt.Errorf("%s: package %s: sha256 %q is not a SHA256 in hex", file, p.Name, p.SHA256)
		case p.Size <= 0:
			return nil, fmt.Errorf("%s: package %s: size must be positive", file, p.Name)
		case p.URL == "":
			return nil, fmt.Errorf("%s: package %s: no url", file, p.Name)
		case seen[p.Name+":"+p.Architecture]:
			return nil, fmt.Errorf("%s: package %s:%s is listed twice", file, p.Name, p.Architecture)
		}
		seen[p.Name+":"+p.Architecture] = true
	}
	return &l, nil
}

// ReadLock reads the lock file at path.
func ReadLock(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	return ParseLock(data, path)
}

// WriteLock writes l to path atomically (a temporary file renamed over it).
func WriteLock(path string, l *Lock) error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// Pending is the lock as a change for transaction.Apply into an empty
// root (as Compose makes it), with the URL of each package: for callers
// that install a lock elsewhere than Compose does (package apps).
func (l *Lock) Pending() (*transaction.Pending, transaction.URLFunc, error) {
	pending := &transaction.Pending{}
	url := map[*deb.Package]string{}
	for _, lp := range l.Packages {
		p, err := lp.debPackage()
		if err != nil {
			return nil, nil, err
		}
		pending.Install = append(pending.Install, transaction.Wanted{Package: p, Auto: lp.Auto})
		url[p] = lp.URL
	}
	return pending, func(p *deb.Package) (string, error) { return url[p], nil }, nil
}
