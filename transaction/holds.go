package transaction

import (
	"fmt"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/resolver"
)

// Held returns the installed packages whose dpkg selection is hold, by
// name, with their installed versions.
func Held(db DB) (map[string]string, error) {
	held := map[string]string{}
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			if p.IsInstalled() && p.Held() {
				held[p.Name] = p.Version
			}
		}
		return err
	})
	return held, err
}

// HoldIndex returns idx seen through the holds: a held package that the
// request does not name (named lists the names a request's Install and
// Remove jobs give) has no candidate but its installed version, so no
// upgrade moves it, as apt keeps a held package. Not even a rebuild of
// that version (the same version with other control data, which the
// resolver upgrades to: deb.SameBuild) is a candidate: the installed
// package itself comes from the request's installed set.
func HoldIndex(idx resolver.Index, held map[string]string, named []string) resolver.Index {
	h := map[string]string{}
	for n, v := range held {
		h[n] = v
	}
	for _, n := range named {
		delete(h, n)
	}
	if len(h) == 0 {
		return idx
	}
	return &holdIndex{base: idx, held: h}
}

type holdIndex struct {
	base resolver.Index
	held map[string]string
}

func (x *holdIndex) keep(ps []*deb.Package) []*deb.Package {
	var out []*deb.Package
	for _, p := range ps {
		if v, ok := x.held[p.Name]; ok && (p.Version.String() != v || p.Origin != "installed") {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (x *holdIndex) Packages(name string) []*deb.Package  { return x.keep(x.base.Packages(name)) }
func (x *holdIndex) Providers(name string) []*deb.Package { return x.keep(x.base.Providers(name)) }

// EssentialNames passes the base index's names through.
func (x *holdIndex) EssentialNames() []string {
	if ei, ok := x.base.(resolver.EssentialIndex); ok {
		return ei.EssentialNames()
	}
	return nil
}

// HeldError names held packages a plan would remove or change.
type HeldError struct {
	Names []string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("held packages would be changed: %s (unhold them with grey mark unhold, or name them)", strings.Join(e.Names, ", "))
}

// CheckHolds refuses a plan that removes or changes the version of a held
// package the request did not name.
func CheckHolds(rp *resolver.Plan, held map[string]string, named []string) error {
	ok := map[string]bool{}
	for _, n := range named {
		ok[n] = true
	}
	var bad []string
	check := func(name string) {
		if _, h := held[name]; h && !ok[name] {
			bad = append(bad, name)
		}
	}
	for _, p := range rp.Remove {
		check(p.Name)
	}
	for _, c := range rp.Upgrade {
		check(c.From.Name)
	}
	for _, c := range rp.Downgrade {
		check(c.From.Name)
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return &HeldError{Names: bad}
}
