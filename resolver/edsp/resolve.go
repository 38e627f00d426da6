package edsp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/resolver"
)

// Options are the solver settings EDSP does not carry.
type Options struct {
	// Recommends installs Recommends as soft goals. apt's own default is
	// on (APT::Install-Recommends), but apt does not pass it to solvers.
	Recommends bool
}

// Input maps the scenario to the resolver: the Index holds the candidates
// (only APT candidates and installed versions when Strict-Pinning is on,
// as the protocol asks) and the Request holds the jobs and the installed
// set. Packages keep their pointers, so a plan's packages map back to
// APT-IDs.
func (sc *Scenario) Input(opts Options) (resolver.Index, resolver.Request, error) {
	r := &sc.Request
	req := resolver.Request{
		Architecture: r.Architecture,
		Autoremove:   r.Autoremove,
		Recommends:   opts.Recommends,
		// Forbid-New-Install (apt-get upgrade) holds back what needs a
		// new package; the resolver keeps the universe to installed names.
		ForbidNewInstall: r.ForbidNewInstall,
	}
	for _, a := range r.Architectures {
		if a != r.Architecture {
			req.ForeignArchs = append(req.ForeignArchs, a)
		}
	}
	if r.UpgradeAll {
		// Upgrade-All with Forbid-Remove is apt's "upgrade", without it
		// "dist-upgrade".
		if r.ForbidRemove {
			req.UpgradeAll = true
		} else {
			req.FullUpgrade = true
		}
	}
	var cands []*deb.Package
	archs := make(map[string]bool)
	// apt's order among equal providers is its cache's: the APT-ID.
	req.Rank = make(map[*deb.Package]int, len(sc.Packages))
	for i, p := range sc.Packages {
		if n, err := strconv.Atoi(p.ID); err == nil {
			req.Rank[p.Package] = n
		} else {
			req.Rank[p.Package] = i
		}
	}
	// apt gives a rebuilt version (the installed version string, other
	// control data) its own stanza and APT-ID, and EDSP does not carry
	// the fields that tell them apart: two stanzas are one build only
	// when they share their APT-ID.
	rank := req.Rank
	req.SameBuild = func(a, b *deb.Package) bool { return a == b || rank[a] == rank[b] }
	// apt installs a name's candidate: an Install of an installed name
	// whose candidate is another version asks for that version, and fails
	// when it cannot be installed (not a silent no-op).
	upgrades := sc.candidateUpgrades()
	for _, p := range sc.Packages {
		archs[p.Name+":"+p.Architecture] = true
		if p.Installed {
			req.Installed = append(req.Installed, resolver.Installed{Package: p.Package, Auto: p.Automatic})
		}
		if !r.StrictPinning || p.Candidate || p.Installed {
			cands = append(cands, p.Package)
		}
	}
	for _, list := range []struct {
		names []string
		dst   *[]resolver.Job
	}{{r.Install, &req.Install}, {r.Remove, &req.Remove}} {
		for _, s := range list.names {
			name, arch, _ := cutArch(s)
			if name == "" {
				return nil, req, formatErr(0, "request names an empty package %q", s)
			}
			j := resolver.Job{Name: name, Arch: arch}
			// apt qualifies every name, "all" packages with the native
			// architecture: name:native means the native package when
			// there is one, else the "all" one.
			if arch == r.Architecture && !archs[name+":"+arch] && archs[name+":all"] {
				j.Arch = "all"
			}
			if list.dst == &req.Install && j.Arch != "" {
				if v, ok := upgrades[name+":"+j.Arch]; ok {
					j.Version = v
				}
			}
			*list.dst = append(*list.dst, j)
		}
	}
	return resolver.NewMemIndex(cands), req, nil
}

// candidateUpgrades maps "name:arch" of each installed package whose APT
// candidate is another version to the candidate's version: apt installs
// a name's candidate, so an Install of that name asks for it.
func (sc *Scenario) candidateUpgrades() map[string]string {
	installedVer := make(map[string]string)
	candidate := make(map[string]string)
	for _, p := range sc.Packages {
		k := p.Name + ":" + p.Architecture
		if p.Installed {
			installedVer[k] = p.Version.String()
		}
		if p.Candidate {
			candidate[k] = p.Version.String()
		}
	}
	upgrades := make(map[string]string)
	for k, iv := range installedVer {
		if c := candidate[k]; c != "" && c != iv {
			upgrades[k] = c
		}
	}
	return upgrades
}

// AnswerFor turns a plan into an EDSP solution: new and changed packages
// as Install stanzas, removed ones as Remove stanzas, and automatically
// installed packages nothing needs any more as Autoremove stanzas.
func (sc *Scenario) AnswerFor(plan *resolver.Plan) (*Answer, error) {
	byPtr := make(map[*deb.Package]*Package, len(sc.Packages))
	byKey := make(map[string]*Package, len(sc.Packages))
	for _, p := range sc.Packages {
		byPtr[p.Package] = p
		byKey[p.Package.String()] = p
	}
	find := func(d *deb.Package) (*Package, error) {
		if p, ok := byPtr[d]; ok {
			return p, nil
		}
		if p, ok := byKey[d.String()]; ok {
			return p, nil
		}
		return nil, fmt.Errorf("edsp: the plan holds %s, which is not in the scenario", d)
	}
	a := &Answer{}
	add := func(dst *[]*Package, d *deb.Package) error {
		p, err := find(d)
		if err != nil {
			return err
		}
		*dst = append(*dst, p)
		return nil
	}
	for _, d := range plan.Install {
		if err := add(&a.Install, d); err != nil {
			return nil, err
		}
	}
	for _, chs := range [][]resolver.Change{plan.Upgrade, plan.Downgrade} {
		for _, ch := range chs {
			if err := add(&a.Install, ch.To); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range plan.Remove {
		if err := add(&a.Remove, d); err != nil {
			return nil, err
		}
	}
	a.Autoremove = sc.autoremovable(plan, find)
	return a, nil
}

// Solve answers the scenario with grey's resolver. An unsatisfiable
// request is an answer too (an Error stanza with the explanation); other
// failures are returned as errors. The plan is nil when there is none.
func (sc *Scenario) Solve(ctx context.Context, opts Options) (*Answer, *resolver.Plan, error) {
	idx, req, err := sc.Input(opts)
	if err != nil {
		return nil, nil, err
	}
	plan, err := resolver.Solve(ctx, idx, req)
	var unsat *resolver.Unsatisfiable
	if errors.As(err, &unsat) {
		return &Answer{Error: &ErrorReport{
			ID:      "grey-unsatisfiable",
			Message: "grey cannot satisfy the request\n" + strings.Join(unsat.Explanation, "\n"),
		}}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("edsp: solve: %w", err)
	}
	a, err := sc.AnswerFor(plan)
	if err != nil {
		return nil, nil, err
	}
	return a, plan, nil
}
