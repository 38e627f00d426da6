// Package resolver decides what to install: given a package index, the
// root's installed set and a request, it computes a Plan (the resulting set
// of packages and the changes that lead to it) or explains in words why no
// such set exists.
//
// The method is libsolv's and apt's, on a SAT solver (gophersat):
//
//   - Only the closure of the request and the installed set is encoded:
//     every candidate reachable through Depends, Pre-Depends and (when on)
//     Recommends, with interned integer ids and a whatprovides table that
//     understands versioned Provides and Multi-Arch.
//   - Hard rules are clauses: dependencies with their alternatives,
//     Conflicts and Breaks, at most one version of a name per architecture,
//     the request, Essential packages that are installed.
//   - Preferences (keep installed, newest version, apt's first satisfiable
//     alternative, fewest packages) are not optimised by pseudo-boolean
//     search, which is far too slow at this size: an apt-like greedy walk
//     computes a preferred assignment, and one Solve() is steered towards it
//     with a cost function (which sets the first decisions and their
//     polarity). A pass then drops every package that nothing in the
//     answer needs.
//   - Every model is verified against the relations before it leaves the
//     package; an unsatisfiable request is explained by a minimal set of
//     rules found by deletion over rule groups, printed as sentences.
//
// gophersat has sharp edges; all its uses, the resolver's and distcheck's,
// go through resolver/internal/sat, and one solve runs at a time per
// process.
package resolver
