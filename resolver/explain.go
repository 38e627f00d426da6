package resolver

import (
	"context"
	"fmt"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/relation"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/resolver/internal/sat"
)

// explainBudget bounds the search for a minimal explanation, in solver
// calls rather than time so that the same request always gets the same
// explanation; when it runs out the explanation is still correct (its
// rules still conflict), only perhaps not the shortest.
const explainBudget = 400

// explain finds a small set of rules that cannot hold together (an UNSAT
// core, since gophersat has no core API: deletion over rule groups, in
// halving chunks, each test a fresh solve) and says it in words, starting
// from the request and following the chain of dependencies.
func (s *state) explain(ctx context.Context) error {
	calls := 0
	core := make([]int, len(s.enc.rules))
	for i := range core {
		core[i] = i
	}
	unsat := func(groups []int) (bool, error) {
		p := &sat.Problem{Vars: len(s.u.pkgs)}
		for _, gi := range groups {
			p.Clauses = append(p.Clauses, s.enc.rules[gi].clause)
		}
		calls++
		m, err := sat.Solve(ctx, p, nil)
		return m == nil, err
	}
	// Only rules touching the cone of the request can matter; a cheap
	// first cut keeps the rules whose packages a request rule reaches.
	core = s.cone(core)
	if ok, err := unsat(core); err != nil {
		return err
	} else if !ok {
		core = core[:0]
		for i := range s.enc.rules {
			core = append(core, i)
		}
	}
	for chunk := max(len(core)/2, 1); ; {
		for i := 0; i < len(core) && calls < explainBudget; {
			end := min(i+chunk, len(core))
			try := append(append([]int(nil), core[:i]...), core[end:]...)
			ok, err := unsat(try)
			if err != nil {
				return err
			}
			if ok {
				core = try
			} else {
				i = end
			}
		}
		if chunk == 1 || calls >= explainBudget {
			break
		}
		chunk = max(min(chunk/2, len(core)/2), 1)
	}
	return &Unsatisfiable{Explanation: s.sentences(core)}
}

// cone keeps the rules whose subject packages are reachable from the
// request's rules through dependency and conflict rules.
func (s *state) cone(all []int) []int {
	n := len(s.u.pkgs)
	reached := make([]bool, n)
	byPkg := make([][]int, n)
	var queue []int
	var out []int
	for _, ri := range all {
		r := &s.enc.rules[ri]
		switch r.kind {
		case ruleInstall, ruleRemove, ruleEssential, ruleKeep:
			for _, cl := range [][]int{r.clause} {
				for _, l := range cl {
					id := abs(l) - 1
					if !reached[id] {
						reached[id] = true
						queue = append(queue, id)
					}
				}
			}
		default:
			byPkg[r.pkg] = append(byPkg[r.pkg], ri)
			if r.other >= 0 {
				byPkg[r.other] = append(byPkg[r.other], ri)
			}
		}
	}
	inCone := make([]bool, len(s.enc.rules))
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, ri := range byPkg[id] {
			if inCone[ri] {
				continue
			}
			inCone[ri] = true
			for _, cl := range [][]int{s.enc.rules[ri].clause} {
				for _, l := range cl {
					if o := abs(l) - 1; !reached[o] {
						reached[o] = true
						queue = append(queue, o)
					}
				}
			}
		}
	}
	for _, ri := range all {
		switch s.enc.rules[ri].kind {
		case ruleInstall, ruleRemove, ruleEssential, ruleKeep:
			out = append(out, ri)
		default:
			if inCone[ri] {
				out = append(out, ri)
			}
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// sentences orders the core's rules from the request along the chain of
// dependencies (breadth first) and prints one sentence per rule.
func (s *state) sentences(core []int) []string {
	var first, rest []int
	for _, ri := range core {
		switch s.enc.rules[ri].kind {
		case ruleInstall, ruleRemove, ruleEssential, ruleKeep:
			first = append(first, ri)
		default:
			rest = append(rest, ri)
		}
	}
	ordered := append([]int(nil), first...)
	seenPkg := map[int]bool{}
	for _, ri := range first {
		for _, cl := range [][]int{s.enc.rules[ri].clause} {
			for _, l := range cl {
				seenPkg[abs(l)-1] = true
			}
		}
	}
	used := make([]bool, len(rest))
	for progress := true; progress; {
		progress = false
		for i, ri := range rest {
			r := &s.enc.rules[ri]
			if used[i] || !(seenPkg[r.pkg] || r.other >= 0 && seenPkg[r.other]) {
				continue
			}
			used[i] = true
			progress = true
			ordered = append(ordered, ri)
			for _, cl := range [][]int{r.clause} {
				for _, l := range cl {
					seenPkg[abs(l)-1] = true
				}
			}
		}
	}
	for i, ri := range rest {
		if !used[i] {
			ordered = append(ordered, ri)
		}
	}
	out := make([]string, 0, len(ordered))
	for _, ri := range ordered {
		out = append(out, s.describe(&s.enc.rules[ri]))
	}
	if len(out) == 0 {
		out = append(out, "the request's rules contradict each other")
	}
	return out
}

func nv(p *deb.Package) string { return p.Name + " " + p.Version.String() }

// describe says one rule in words a person can act on.
func (s *state) describe(r *rule) string {
	u := s.u
	switch r.kind {
	case ruleInstall:
		return fmt.Sprintf("you asked to install %s", r.job)
	case ruleRemove:
		return fmt.Sprintf("you asked to remove %s", nv(u.pkgs[r.pkg]))
	case ruleEssential:
		return fmt.Sprintf("%s is Essential and cannot be removed", u.pkgs[r.pkg].Name)
	case ruleKeep:
		return fmt.Sprintf("%s is installed and an upgrade does not remove packages (a full upgrade may)", u.pkgs[r.pkg].Name)
	case ruleConflict:
		verb := "conflicts with"
		if r.field == "Breaks" {
			verb = "breaks"
		}
		q := u.pkgs[r.other]
		via := ""
		if r.rel[0].Name != q.Name {
			via = fmt.Sprintf(" (which provides %s)", r.rel[0].Name)
		}
		return fmt.Sprintf("%s %s %s, so it cannot be installed together with %s%s", nv(u.pkgs[r.pkg]), verb, r.rel, nv(q), via)
	case ruleOneVer:
		a, b := u.pkgs[r.pkg], u.pkgs[r.other]
		return fmt.Sprintf("%s and %s cannot both be installed (one version of %s at a time)", nv(a), nv(b), a.Name)
	case ruleDepends:
		p := u.pkgs[r.pkg]
		verb := "depends on"
		if r.field == "Pre-Depends" {
			verb = "pre-depends on"
		}
		msg := fmt.Sprintf("%s %s %s", nv(p), verb, r.rel)
		var why []string
		for i := range r.rel {
			if w := s.unavailable(p, &r.rel[i]); w != "" {
				why = append(why, w)
			}
		}
		if len(why) == len(r.rel) && len(why) > 0 {
			msg += ", but " + strings.Join(why, ", and ")
		}
		return msg
	}
	return "unknown rule"
}

// unavailable explains why no candidate satisfies pos at all, or returns
// "" when some candidate does (other rules then rule it out).
func (s *state) unavailable(from *deb.Package, pos *relation.Possibility) string {
	u := s.u
	if len(u.satisfiers(u.effArch(from), pos, false)) > 0 {
		return ""
	}
	var vers []string
	for _, id := range u.real(pos.Name) {
		q := u.pkgs[id]
		v := q.Version.String()
		if q.Architecture != u.native && q.Architecture != "all" {
			v += " (" + q.Architecture + ")"
		}
		vers = append(vers, v)
	}
	switch {
	case len(vers) == 1:
		return fmt.Sprintf("the only %s available is %s", pos.Name, vers[0])
	case len(vers) > 1:
		return fmt.Sprintf("the %s versions available are %s", pos.Name, strings.Join(vers, ", "))
	case len(u.prov(pos.Name)) > 0:
		var ps []string
		for _, id := range u.prov(pos.Name) {
			ps = append(ps, nv(u.pkgs[id]))
		}
		return fmt.Sprintf("%s is a virtual package and its providers (%s) do not fit", pos.Name, strings.Join(ps, ", "))
	}
	return fmt.Sprintf("no package %s is available", pos.Name)
}

// noCandidate explains a job that selects nothing.
func noCandidate(u *universe, j Job) string {
	var vers []string
	for _, id := range u.real(j.Name) {
		q := u.pkgs[id]
		v := q.Version.String() + " (" + q.Architecture
		where := q.Origin
		if u.policy != nil {
			// Not grey's identifier of the source: the release, as
			// the user names it in NAME/RELEASE.
			where = u.policy.Where(q)
		}
		if where != "" {
			v += ", " + where
		}
		vers = append(vers, v+")")
	}
	if len(vers) == 0 {
		if len(u.prov(j.Name)) > 0 {
			return fmt.Sprintf("%s is a virtual package: name one of its providers with a version or origin", j.Name)
		}
		return fmt.Sprintf("no package %s is available", j.Name)
	}
	if j.Version != "" {
		if _, err := version.Parse(j.Version); err == nil {
			return fmt.Sprintf("%s has no version %s; available: %s", j.Name, j.Version, strings.Join(vers, "; "))
		}
	}
	return fmt.Sprintf("no candidate of %s matches %s; available: %s", j.Name, j, strings.Join(vers, "; "))
}

// Step is one link of a Why chain.
type Step struct {
	Package *deb.Package
	Reason  Reason
}

// Why returns the chain that puts the package named name (any
// architecture; "name:arch" selects one) in plan's final set: the first
// step is a requested or kept installed package, each next one is pulled
// in by the step before, the last is the package itself.
func Why(plan *Plan, name string) ([]Step, error) {
	arch := ""
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name, arch = name[:i], name[i+1:]
	}
	var target *deb.Package
	for _, p := range plan.Final {
		if p.Name == name && (arch == "" || p.Architecture == arch) {
			target = p
			break
		}
	}
	if target == nil {
		return nil, fmt.Errorf("%s is not in the resulting set: nothing requested or installed needs it", name)
	}
	var chain []Step
	seen := map[string]bool{}
	for p := target; p != nil; {
		k := Key(p)
		if seen[k] {
			return nil, fmt.Errorf("reason chain for %s loops at %s", name, k)
		}
		seen[k] = true
		r := plan.Reasons[k]
		chain = append(chain, Step{Package: p, Reason: r})
		p = r.By
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}
