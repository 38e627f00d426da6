package check

import (
	"errors"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
)

// universe parses blank-line separated stanzas into packages keyed by
// name_version_arch.
func universe(t *testing.T, text string) map[string]*deb.Package {
	t.Helper()
	stanzas, err := control.ParseAll(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse universe: %v", err)
	}
	out := make(map[string]*deb.Package)
	for _, s := range stanzas {
		if s.Get("Architecture") == "" {
			s.Set("Architecture", "amd64")
		}
		p, err := deb.FromStanza(s)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		out[p.String()] = p
	}
	return out
}

func pick(t *testing.T, u map[string]*deb.Package, ids string) []*deb.Package {
	t.Helper()
	var out []*deb.Package
	for _, id := range strings.Fields(ids) {
		p, ok := u[id]
		if !ok {
			t.Fatalf("no package %s in the test universe", id)
		}
		out = append(out, p)
	}
	return out
}

const world = `
Package: app
Version: 1
Depends: libc6 (>= 2.34), mail-transport-agent | postfix

Package: app
Version: 2
Depends: libfoo (>= 2)

Package: libc6
Version: 2.36
Multi-Arch: same

Package: libc6
Version: 2.36
Architecture: i386
Multi-Arch: same

Package: libc6
Version: 2.31
Multi-Arch: same

Package: exim4
Version: 4.96
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: postfix
Version: 3.7
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: libfoo-ng
Version: 5
Provides: libfoo (= 2.5)

Package: libfoo-old
Version: 5
Provides: libfoo

Package: breaker
Version: 1
Breaks: libc6 (<< 2.35)

Package: conflicter
Version: 1
Conflicts: exim4

Package: tool
Version: 1
Architecture: i386
Multi-Arch: foreign

Package: user-of-tool
Version: 1
Depends: tool

Package: pylib
Version: 1
Architecture: i386
Multi-Arch: allowed

Package: needs-any
Version: 1
Depends: pylib:any

Package: plain32
Version: 1
Architecture: i386

Package: needs-plain32-any
Version: 1
Depends: plain32:any

Package: needs-plain32
Version: 1
Depends: plain32

Package: needs-i386
Version: 1
Depends: plain32:i386

Package: indep
Version: 1
Architecture: all
Depends: libc6

Package: base
Version: 1
Essential: yes

Package: predep
Version: 1
Pre-Depends: libc6 (>= 2.36)

Package: archdep
Version: 1
Depends: nothing-here [i386], libc6 [amd64]

Package: notsame
Version: 1

Package: notsame
Version: 1
Architecture: i386

Package: selfprov
Version: 1
Depends: sv (>= 1)
Provides: sv (= 1)
`

func TestCheck(t *testing.T) {
	u := universe(t, world)
	all := make([]*deb.Package, 0, len(u))
	for _, p := range u {
		all = append(all, p)
	}
	stranger := universe(t, "Package: stranger\nVersion: 9\n")["stranger_9_amd64"]
	tests := []struct {
		name      string
		installed string
		req       Request
		final     string
		extra     []*deb.Package // final packages outside the universe
		want      []Rule         // nil: valid
	}{
		{name: "first alternative via provider", final: "app_1_amd64 libc6_2.36_amd64 exim4_4.96_amd64"},
		{name: "second alternative real", final: "app_1_amd64 libc6_2.36_amd64 postfix_3.7_amd64"},
		{name: "missing dependency", final: "app_1_amd64 libc6_2.36_amd64", want: []Rule{RuleDepends}},
		{name: "version too old", final: "app_1_amd64 libc6_2.31_amd64 postfix_3.7_amd64", want: []Rule{RuleDepends}},
		{name: "two versions of one name", final: "app_1_amd64 libc6_2.31_amd64 libc6_2.36_amd64 postfix_3.7_amd64", want: []Rule{RuleOneVersion}},
		{name: "versioned provides satisfies", final: "app_2_amd64 libfoo-ng_5_amd64"},
		{name: "unversioned provides does not satisfy versioned", final: "app_2_amd64 libfoo-old_5_amd64", want: []Rule{RuleDepends}},
		{name: "self conflict through own provides is fine", final: "exim4_4.96_amd64"},
		{name: "own provides satisfies own dependency", final: "selfprov_1_amd64"},
		{name: "two providers conflicting via virtual", final: "exim4_4.96_amd64 postfix_3.7_amd64", want: []Rule{RuleConflicts, RuleConflicts}},
		{name: "breaks old version", final: "breaker_1_amd64 libc6_2.31_amd64", want: []Rule{RuleBreaks}},
		{name: "breaks not new version", final: "breaker_1_amd64 libc6_2.36_amd64"},
		{name: "conflicts real package", final: "conflicter_1_amd64 exim4_4.96_amd64", want: []Rule{RuleConflicts}},
		{name: "multi-arch foreign crosses arch", final: "user-of-tool_1_amd64 tool_1_i386"},
		{name: "any with allowed", final: "needs-any_1_amd64 pylib_1_i386"},
		{name: "any without allowed", final: "needs-plain32-any_1_amd64 plain32_1_i386", want: []Rule{RuleDepends}},
		{name: "unqualified foreign arch not satisfied", final: "needs-plain32_1_amd64 plain32_1_i386", want: []Rule{RuleDepends}},
		{name: "explicit arch qualifier", final: "needs-i386_1_amd64 plain32_1_i386"},
		{name: "arch all depends on native", final: "indep_1_all libc6_2.36_amd64"},
		{name: "arch all not satisfied by foreign", final: "indep_1_all libc6_2.36_i386", want: []Rule{RuleDepends}},
		{name: "multi-arch same co-installed", final: "libc6_2.36_amd64 libc6_2.36_i386"},
		{name: "not multi-arch same co-installed", final: "notsame_1_amd64 notsame_1_i386", want: []Rule{RuleMultiArch, RuleMultiArch}},
		{name: "pre-depends unmet", final: "predep_1_amd64 libc6_2.31_amd64", want: []Rule{RulePreDepends}},
		{name: "arch restriction list", final: "archdep_1_amd64 libc6_2.36_amd64"},
		{name: "unknown package", final: "libc6_2.36_amd64", extra: []*deb.Package{stranger}, want: []Rule{RuleUnknown}},
		{
			name: "install honoured at version", final: "libc6_2.31_amd64",
			req: Request{Install: []Target{{Name: "libc6", Version: "2.31"}}},
		},
		{
			name: "install at wrong version", final: "libc6_2.36_amd64",
			req:  Request{Install: []Target{{Name: "libc6", Version: "2.31"}}},
			want: []Rule{RuleInstall},
		},
		{
			name: "install missing", final: "",
			req:  Request{Install: []Target{{Name: "postfix"}}},
			want: []Rule{RuleInstall},
		},
		{
			name: "install of foreign arch by qualifier", final: "plain32_1_i386",
			req: Request{Install: []Target{{Name: "plain32", Arch: "i386"}}},
		},
		{
			name: "install native does not accept foreign arch", final: "plain32_1_i386",
			req:  Request{Install: []Target{{Name: "plain32"}}},
			want: []Rule{RuleInstall},
		},
		{
			name: "remove honoured", installed: "postfix_3.7_amd64", final: "",
			req: Request{Remove: []Target{{Name: "postfix"}}},
		},
		{
			name: "remove ignored", installed: "postfix_3.7_amd64", final: "postfix_3.7_amd64",
			req:  Request{Remove: []Target{{Name: "postfix"}}},
			want: []Rule{RuleRemove},
		},
		{name: "essential dropped", installed: "base_1_amd64", final: "", want: []Rule{RuleEssential}},
		{
			name: "essential removed on request", installed: "base_1_amd64", final: "",
			req: Request{Remove: []Target{{Name: "base"}}},
		},
		{
			name: "essential removal allowed", installed: "base_1_amd64", final: "",
			req: Request{AllowRemoveEssential: true},
		},
		{name: "upgrade is not a removal", installed: "libc6_2.31_amd64", final: "libc6_2.36_amd64", req: Request{ForbidRemove: true}},
		{name: "forbid remove", installed: "postfix_3.7_amd64", final: "", req: Request{ForbidRemove: true}, want: []Rule{RuleForbidRemove}},
		{name: "forbid new install", installed: "libc6_2.31_amd64", final: "libc6_2.36_amd64 postfix_3.7_amd64", req: Request{ForbidNewInstall: true}, want: []Rule{RuleForbidInstall}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Architecture = "amd64"
			final := append(pick(t, u, tc.final), tc.extra...)
			err := Check(Case{Universe: all, Installed: pick(t, u, tc.installed), Request: req, Final: final})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid answer rejected: %v", err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("invalid answer accepted (want %v), err=%v", tc.want, err)
			}
			var got []Rule
			for _, v := range ce.Violations {
				got = append(got, v.Rule)
				if v.Detail == "" || v.Package == "" {
					t.Errorf("violation without words: %+v", v)
				}
			}
			if strings.Join(ruleStrings(got), " ") != strings.Join(ruleStrings(tc.want), " ") {
				t.Fatalf("violations %v, want %v\n%v", got, tc.want, err)
			}
		})
	}
}

func ruleStrings(rs []Rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func TestErrorMessageNamesThePackage(t *testing.T) {
	u := universe(t, world)
	err := Check(Case{Request: Request{Architecture: "amd64"}, Universe: pick(t, u, "app_1_amd64 libc6_2.31_amd64"), Final: pick(t, u, "app_1_amd64 libc6_2.31_amd64")})
	if err == nil || !strings.Contains(err.Error(), "app_1_amd64") || !strings.Contains(err.Error(), "libc6 (>= 2.34)") {
		t.Fatalf("message does not name the package and relation: %v", err)
	}
}

// TestArchAppliesWildcards: the checker reads restriction lists as dpkg
// does, wildcards and negations included.
func TestArchAppliesWildcards(t *testing.T) {
	for _, c := range []struct {
		list, arch string
		want       bool
	}{
		{"", "amd64", true},
		{"linux-any", "amd64", true},
		{"linux-any", "hurd-i386", false},
		{"!any-i386", "i386", false},
		{"!any-i386", "hurd-i386", false},
		{"!any-i386", "amd64", true},
		{"any-amd64", "hurd-amd64", true},
		{"any", "arm64", true},
		{"foo-any", "amd64", false},
		{"!foo-any", "amd64", true},
		{"amd64 !i386", "arm64", true},
		{"!amd64 linux-any", "amd64", false},
	} {
		in := "a"
		if c.list != "" {
			in += " [" + c.list + "]"
		}
		d, err := relation.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := archApplies(&d[0][0], c.arch); got != c.want {
			t.Errorf("archApplies([%s], %s) = %v, want %v", c.list, c.arch, got, c.want)
		}
	}
}
