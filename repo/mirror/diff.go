package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

// Change kinds in a diff.
const (
	Added      = "added"
	Removed    = "removed"
	Upgraded   = "upgraded"
	Downgraded = "downgraded"
)

// Change is one package that differs between two states of a mirror.
type Change struct {
	Kind  string `json:"kind"`
	Suite string `json:"suite"`
	// Component is the component the package is listed in (in the newer
	// state, or the older for a removal).
	Component    string `json:"component"`
	Package      string `json:"package"`
	Architecture string `json:"architecture"`
	// From and To are the versions before and after ("" when absent).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("added %s %s %s (%s/%s)", c.Package, c.To, c.Architecture, c.Suite, c.Component)
	case Removed:
		return fmt.Sprintf("removed %s %s %s (%s/%s)", c.Package, c.From, c.Architecture, c.Suite, c.Component)
	}
	return fmt.Sprintf("%s %s %s -> %s %s (%s/%s)", c.Kind, c.Package, c.From, c.To, c.Architecture, c.Suite, c.Component)
}

// pkgKey is a package of one suite.
type pkgKey struct{ suite, name, arch string }

type pkgVal struct {
	component string
	version   version.Version
}

// Diff lists the packages added, removed, upgraded and downgraded between
// the states revisions a and b name (tags, commits, HEAD~1), sorted by
// suite, name and architecture. A name listed in several versions is
// compared by its highest.
func Diff(ctx context.Context, m *Mirror, a, b string) ([]Change, error) {
	r, err := git.PlainOpen(m.Dir)
	if err != nil {
		return nil, err
	}
	var states [2]map[pkgKey]pkgVal
	for i, rev := range []string{a, b} {
		c, err := resolve(r, rev)
		if err != nil {
			return nil, err
		}
		if states[i], err = commitPackages(ctx, c); err != nil {
			return nil, fmt.Errorf("revision %s: %w", rev, err)
		}
	}
	var out []Change
	for k, old := range states[0] {
		nv, ok := states[1][k]
		ch := Change{Suite: k.suite, Component: old.component, Package: k.name, Architecture: k.arch, From: old.version.String()}
		if !ok {
			ch.Kind = Removed
			out = append(out, ch)
			continue
		}
		ch.To, ch.Component = nv.version.String(), nv.component
		switch c := version.Compare(old.version, nv.version); {
		case c < 0:
			ch.Kind = Upgraded
		case c > 0:
			ch.Kind = Downgraded
		default:
			continue
		}
		out = append(out, ch)
	}
	for k, nv := range states[1] {
		if _, ok := states[0][k]; !ok {
			out = append(out, Change{Kind: Added, Suite: k.suite, Component: nv.component, Package: k.name, Architecture: k.arch, To: nv.version.String()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Suite != y.Suite {
			return x.Suite < y.Suite
		}
		if x.Package != y.Package {
			return x.Package < y.Package
		}
		return x.Architecture < y.Architecture
	})
	return out, nil
}

// packagesFiles picks, per dists/SUITE/COMP/binary-ARCH folder of c, the
// Packages file to read (plain, else xz, else gz).
func packagesFiles(c *object.Commit) (map[string]*object.File, error) {
	best := map[string]*object.File{}
	rank := map[string]int{"Packages": 0, "Packages.xz": 1, "Packages.gz": 2}
	err := treeFiles(c, "dists/", func(f *object.File) error {
		base := path.Base(f.Name)
		rk, ok := rank[base]
		parts := strings.Split(f.Name, "/")
		if !ok || len(parts) != 5 || !strings.HasPrefix(parts[3], "binary-") {
			return nil
		}
		dir := path.Dir(f.Name)
		if cur, ok := best[dir]; !ok || rk < rank[path.Base(cur.Name)] {
			best[dir] = f
		}
		return nil
	})
	return best, err
}

// commitPackages reads every package of c's indexes.
func commitPackages(ctx context.Context, c *object.Commit) (map[pkgKey]pkgVal, error) {
	files, err := packagesFiles(c)
	if err != nil {
		return nil, err
	}
	out := map[pkgKey]pkgVal{}
	for dir, f := range files {
		parts := strings.Split(dir, "/") // dists SUITE COMP binary-ARCH
		err := readStanzas(f, func(st *control.Stanza) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := version.Parse(st.Get("Version"))
			if err != nil {
				return fmt.Errorf("package %s: %w", st.Get("Package"), err)
			}
			k := pkgKey{suite: parts[1], name: st.Get("Package"), arch: st.Get("Architecture")}
			if cur, ok := out[k]; !ok || version.Compare(cur.version, v) < 0 {
				out[k] = pkgVal{component: parts[2], version: v}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readStanzas(f *object.File, fn func(*control.Stanza) error) error {
	rd, err := f.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	dec, _, err := compress.SystemDecoder().NewReader(rd)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Name, err)
	}
	defer dec.Close()
	cr := control.NewReaderName(dec, f.Name)
	defer cr.Close()
	for {
		st, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
		if err := fn(st); err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
	}
}
