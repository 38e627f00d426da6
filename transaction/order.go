package transaction

import (
	"context"
	"os"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/relation"
)

// Apply executes plan in opts.Root. Errors before the commit leave the
// root as it was (apart from what a failing preinst or prerm itself did);
// a failing maintainer script leaves its package as dpkg would
// (lifecycle.go) and Apply returns a *FailedError with the Result. The
// caller must hold the root's lock (pkgdb.LockRoot).
//
// When a package of the plan Pre-Depends on another package the plan
// installs and scripts run, the plan is applied in stages, as apt splits
// its dpkg calls: the pre-dependency (with what it depends on) is
// unpacked and configured in an earlier transaction than the package
// that pre-depends on it, so its preinst finds it configured. Removals go
// in the first stage. Each stage is a transaction of its own (journal,
// history entry); Apply stops at the first stage that fails and returns
// what the stages did so far.
func Apply(ctx context.Context, db DB, plan Plan, opts Options) (*Result, error) {
	stages := preDependStages(plan, opts)
	if len(stages) <= 1 {
		return applyOne(ctx, db, plan, opts)
	}
	total := &Result{}
	for _, st := range stages {
		res, err := applyOne(ctx, db, st, opts)
		if res != nil {
			total.Changes = append(total.Changes, res.Changes...)
			total.Conffiles = append(total.Conffiles, res.Conffiles...)
			total.Files += res.Files
			total.Bytes += res.Bytes
			total.Failures = append(total.Failures, res.Failures...)
			if res.HistoryID != 0 {
				total.HistoryID = res.HistoryID
			}
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// preDependStages splits plan by Pre-Depends among its packages: a
// package's stage is at least that of each package it Depends on and
// after that of each package it Pre-Depends on (a cycle counts as no
// edge). It returns nil, one stage, when there is nothing to split, when
// no scripts run, when the root has no shell yet (a bootstrap, where
// nothing can be configured before the unpack) or when a control part
// cannot be read (the transaction then reports it).
func preDependStages(plan Plan, opts Options) []Plan {
	if opts.NoScripts || len(plan.Install) < 2 {
		return nil
	}
	if _, err := os.Stat(opts.Root + "/bin/sh"); err != nil {
		return nil
	}
	pkgs := make([]*deb.Package, len(plan.Install))
	index := map[string]int{} // "name:arch" and "name" -> position
	for i, it := range plan.Install {
		p, err := installControl(it)
		if err != nil {
			return nil
		}
		pkgs[i] = p
		index[p.Name+":"+p.Architecture] = i
		if _, ok := index[p.Name]; !ok {
			index[p.Name] = i
		}
	}
	// A dependency means the instance of the depender's architecture
	// when the plan has it (Multi-Arch: same), else any instance.
	find := func(name, arch string) (int, bool) {
		if j, ok := index[name+":"+arch]; ok {
			return j, true
		}
		j, ok := index[name]
		return j, ok
	}
	stage := make([]int, len(pkgs))
	state := make([]int, len(pkgs)) // 0 new, 1 visiting, 2 done
	var visit func(i int) int
	visit = func(i int) int {
		switch state[i] {
		case 1:
			return 0 // a cycle: no constraint through it
		case 2:
			return stage[i]
		}
		state[i] = 1
		s := 0
		for _, dep := range []struct {
			rels relation.Dependency
			step int
		}{{pkgs[i].PreDepends, 1}, {pkgs[i].Depends, 0}} {
			for _, rel := range dep.rels {
				for _, alt := range rel {
					if j, ok := find(alt.Name, pkgs[i].Architecture); ok && j != i {
						s = max(s, visit(j)+dep.step)
					}
				}
			}
		}
		stage[i], state[i] = s, 2
		return s
	}
	last := 0
	for i := range pkgs {
		last = max(last, visit(i))
	}
	if last == 0 {
		return nil
	}
	out := make([]Plan, last+1)
	out[0].Remove = plan.Remove
	for i, it := range plan.Install {
		out[stage[i]].Install = append(out[stage[i]].Install, it)
	}
	return out
}

// installControl reads the control fields of one planned package.
func installControl(it Install) (*deb.Package, error) {
	if it.Snapshot != nil {
		st, err := control.ParseOne([]byte(it.Snapshot.Package.Control))
		if err != nil {
			return nil, err
		}
		return deb.FromStanza(st)
	}
	f, err := os.Open(it.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctl, err := archive.ReadControl(f, it.Path)
	if err != nil {
		return nil, err
	}
	return deb.FromStanza(ctl.Fields)
}
