package transaction

import (
	"context"
	"errors"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/resolver"
)

func holdPkg(t *testing.T, name, ver, deps string) *deb.Package {
	t.Helper()
	st := &control.Stanza{Fields: []control.Field{{Name: "Package", Value: name}, {Name: "Version", Value: ver}, {Name: "Architecture", Value: "amd64"}}}
	if deps != "" {
		st.Fields = append(st.Fields, control.Field{Name: "Depends", Value: deps})
	}
	p, err := deb.FromStanza(st)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHoldsKeepVersions(t *testing.T) {
	// The archive's libx 1 is a rebuild (other Depends) of the installed
	// one, which the resolver upgrades to (deb.SameBuild) unless
	// libx is held.
	rebuilt := holdPkg(t, "libx", "1", "libz")
	rebuilt.Origin = "bookworm"
	idx := resolver.NewMemIndex([]*deb.Package{
		holdPkg(t, "hello", "1", ""), holdPkg(t, "hello", "2", ""),
		rebuilt, holdPkg(t, "libx", "2", ""), holdPkg(t, "libz", "1", ""),
		holdPkg(t, "app", "2", "libx (>= 2)"),
	})
	installed := []resolver.Installed{{Package: holdPkg(t, "hello", "1", "")}, {Package: holdPkg(t, "libx", "1", "")}}
	held := map[string]string{"hello": "1", "libx": "1"}
	tests := []struct {
		name     string
		req      resolver.Request
		named    []string
		upgraded int
		err      bool
	}{
		{"upgrade keeps held", resolver.Request{UpgradeAll: true}, nil, 0, false},
		{"named package moves", resolver.Request{Install: []resolver.Job{{Name: "hello"}}}, []string{"hello"}, 1, false},
		{"named rebuild moves", resolver.Request{Install: []resolver.Job{{Name: "libx", Version: "1"}}}, []string{"libx"}, 1, false},
		{"dependency on a newer held version is unsatisfiable", resolver.Request{Install: []resolver.Job{{Name: "app"}}}, []string{"app"}, 0, true},
	}
	for _, tc := range tests {
		tc.req.Installed = installed
		rp, err := resolver.Solve(context.Background(), HoldIndex(idx, held, tc.named), tc.req)
		if err == nil {
			err = CheckHolds(rp, held, tc.named)
		}
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && len(rp.Upgrade) != tc.upgraded {
			t.Errorf("%s: %d upgrades, want %d", tc.name, len(rp.Upgrade), tc.upgraded)
		}
	}
	// A plan that removes a held package is refused.
	rp := &resolver.Plan{Remove: []*deb.Package{holdPkg(t, "libx", "1", "")}}
	var he *HeldError
	if err := CheckHolds(rp, held, nil); !errors.As(err, &he) || he.Names[0] != "libx" {
		t.Errorf("removing a held package: %v", err)
	}
}
