package edsp

import (
	"sort"
	"strings"
	"testing"
)

// aptSuiteSource names the apt release whose test/integration scripts the
// table below converts (github.com/Debian/apt, commit 6b1281242, "Release
// 3.1.12"). Only the scenario data is taken: each script's packages
// (insertpackage, insertinstalledpackage), the apt-get command and the
// Inst/Remv lines of its expected output.
const aptSuiteSource = "apt 3.1.12 (Debian/apt 6b1281242) test/integration/"

// aptCase is one apt-get command of an apt integration test.
type aptCase struct {
	name, script, describe string
	request, universe      string
	recommends             bool
	// change lists the packages apt installs or upgrades (name=version),
	// remove the ones it removes; the expected final set is the installed
	// set with both applied. err, when set, expects no solution.
	change, remove []string
	err            bool
	known          string
}

// expectFinal computes "final ..." from the universe's installed packages.
func (c aptCase) expectFinal() string {
	final := map[string]string{}
	for _, line := range strings.Split(c.universe, "\n") {
		w := strings.Fields(strings.Split(line, ";")[0])
		for _, f := range w[2:] {
			if f == "installed" {
				final[w[0]] = w[1]
			}
		}
	}
	for _, r := range c.remove {
		delete(final, r)
	}
	for _, ch := range c.change {
		n, v, _ := strings.Cut(ch, "=")
		final[n] = v
	}
	var out []string
	for n, v := range final {
		out = append(out, n+"="+v)
	}
	sort.Strings(out)
	return "final " + strings.Join(out, " ")
}

const (
	aptPriorityUniverse = "foo 1 arch=all ; Provides: stuff ; Priority: important\nbar 1 arch=all ; Provides: stuff ; Priority: optional\nbaz 1 arch=all ; Provides: stuff ; Priority: extra\nawesome 1 arch=all ; Depends: stuff"
	aptRealUniverse     = "update-notifier 1 arch=all ; Depends: gnome-shell | notification-daemon\ngnome-shell 1 arch=all ; Provides: notification-daemon\ncinnamon 1 arch=all ; Provides: notification-daemon\nawesome 1 arch=all ; Provides: notification-daemon\nnotification-daemon 1 arch=all"
	aptTightenUniverse  = `cool 1 installed arch=all
stuff 1 installed arch=all
coolstuff 1 installed arch=all
cool 2 arch=all
stuff 2 arch=all
coolstuff 2 arch=all
super 2 arch=all
tighten-cool 1 installed arch=all ; Recommends: cool (>= 1)
tighten-cool 2 arch=all ; Recommends: cool (>= 2)
tighten-coolorstuff 1 installed arch=all ; Recommends: cool (>= 1) | stuff (>= 1)
tighten-coolorstuff 2 arch=all ; Recommends: stuff (>= 2) | cool (>= 2)
tighten-coolorstuff2 1 installed arch=all ; Recommends: cool (>= 1) | stuff (>= 1)
tighten-coolorstuff2 2 arch=all ; Recommends: stuff2 (>= 2) | cool (>= 2)
newrec-cool 1 installed arch=all
newrec-cool 2 arch=all ; Recommends: cool (>= 2)
newrec-super 1 installed arch=all
newrec-super 2 arch=all ; Recommends: super
newrec-coolorstuff 1 installed arch=all
newrec-coolorstuff 2 arch=all ; Recommends: cool (>= 2) | stuff (>= 2)
cool-gone 1 installed arch=all ; Recommends: cool (>= 1) | stuff (>= 2)
cool-gone 2 arch=all ; Recommends: stuff (>= 2)
super-overtake 1 installed arch=all ; Recommends: cool | super, stuff | super
super-overtake 2 arch=all ; Recommends: stuff (>= 3) | super, super | cool (>= 2)
upgrade-over-new 1 installed arch=all ; Recommends: cool
upgrade-over-new 2 arch=all ; Recommends: cool (>= 2) | super
now-satisfiable 1 installed arch=all ; Recommends: cool (>= 3)
now-satisfiable 2 arch=all ; Recommends: cool (>= 2)`
	aptWiresharkUniverse = "tshark 1.0.4-1 installed ; Depends: wireshark-common\nwireshark-common 1.0.4-1 installed ; Recommends: wireshark (>= 1.0.4-1) | tshark (>= 1.0.4-1)\ntshark 1.2.1-2 ; Depends: wireshark-common (= 1.2.1-2)\nwireshark-common 1.2.1-2 ; Recommends: wireshark (>= 1.2.1-2) | tshark (>= 1.2.1-2)\nwireshark 1.2.1-2 ; Depends: wireshark-common (= 1.2.1-2)"
	aptSourceUniverse    = "pkg 1 installed arch=all ; Source: pkg\npkg-foo 1 installed arch=all ; Source: pkg\npkg-bar 1 installed arch=all ; Source: pkg\npkg 2 arch=all ; Source: pkg\npkg-foo 2 arch=all ; Source: pkg\npkg-bar 2 arch=all ; Source: pkg"
	aptRemovedUniverse   = "untouchable-for-solving 1 arch=all ; Conflicts: main\nbad 1 installed arch=all ; Depends: main (= 1)\nbad 2 arch=all ; Depends: main (= 2), untouchable-for-solving\nmain 1 installed arch=all\nmain 2 arch=all ; Breaks: bad\nelse 1 arch=all\nmeta 1 arch=all ; Depends: main (= 2) | else"
)

func aptCases() []aptCase {
	pri := "test-prefer-higher-priority-providers"
	real := "test-resolver-prefers-real-package"
	tight := "test-bug-470115-new-and-tighten-recommends"
	cs := []aptCase{
		{name: "priority-provider", script: pri, describe: "the provider of the highest Priority is chosen", request: "Install: awesome", universe: aptPriorityUniverse, change: []string{"awesome=1", "foo=1"}},
		{name: "priority-provider-named", script: pri, describe: "a requested provider satisfies the dependency", request: "Install: awesome foo", universe: aptPriorityUniverse, change: []string{"awesome=1", "foo=1"}},
		{name: "priority-provider-others-removed", script: pri, describe: "removing (absent) other providers changes nothing", request: "Install: awesome\nRemove: bar baz", universe: aptPriorityUniverse, change: []string{"awesome=1", "foo=1"}},
		{name: "priority-provider-second", script: pri, describe: "without the first, the provider of the next Priority", request: "Install: awesome\nRemove: foo", universe: aptPriorityUniverse, change: []string{"awesome=1", "bar=1"}},
		{name: "priority-provider-second-baz-removed", script: pri, describe: "without foo and baz, bar", request: "Install: awesome\nRemove: foo baz", universe: aptPriorityUniverse, change: []string{"awesome=1", "bar=1"}},
		{name: "priority-provider-last", script: pri, describe: "without foo and bar, baz (Priority: extra)", request: "Install: awesome\nRemove: foo bar", universe: aptPriorityUniverse, change: []string{"awesome=1", "baz=1"}},
		{name: "priority-provider-none", script: pri, describe: "without any provider, no solution", request: "Install: awesome\nRemove: foo bar baz", universe: aptPriorityUniverse, err: true},
		{name: "real-first-alternative", script: real, describe: "the first alternative, a real package, is chosen", request: "Install: update-notifier", universe: aptRealUniverse, change: []string{"update-notifier=1", "gnome-shell=1"}},
		{name: "real-package-before-providers", script: real, describe: "of a virtual alternative, the real package of the name comes before its providers", request: "Install: update-notifier\nRemove: gnome-shell", universe: aptRealUniverse, change: []string{"update-notifier=1", "notification-daemon=1"}},
		{name: "real-later-provider", script: real, describe: "among equal providers, the one the archive lists later (higher APT-ID)", request: "Install: update-notifier\nRemove: gnome-shell notification-daemon", universe: aptRealUniverse, change: []string{"update-notifier=1", "awesome=1"}},
		{name: "tighten-cool", script: tight, describe: "a tightened Recommends upgrades its installed target", request: "Install: tighten-cool", universe: aptTightenUniverse, recommends: true, change: []string{"tighten-cool=2", "cool=2"}},
		{name: "tighten-coolorstuff", script: tight, describe: "a tightened or-group Recommends upgrades its first alternative", request: "Install: tighten-coolorstuff", universe: aptTightenUniverse, recommends: true, change: []string{"tighten-coolorstuff=2", "stuff=2"}},
		{name: "tighten-coolorstuff2", script: tight, describe: "a tightened or-group whose first alternative is unknown upgrades the second", request: "Install: tighten-coolorstuff2", universe: aptTightenUniverse, recommends: true, change: []string{"tighten-coolorstuff2=2", "cool=2"}},
		{name: "newrec-cool", script: tight, describe: "a new Recommends on an installed package upgrades it", request: "Install: newrec-cool", universe: aptTightenUniverse, recommends: true, change: []string{"newrec-cool=2", "cool=2"}},
		{name: "newrec-super", script: tight, describe: "a new Recommends installs a new package", request: "Install: newrec-super", universe: aptTightenUniverse, recommends: true, change: []string{"newrec-super=2", "super=2"}},
		{name: "newrec-coolorstuff", script: tight, describe: "a new or-group Recommends upgrades its first alternative", request: "Install: newrec-coolorstuff", universe: aptTightenUniverse, recommends: true, change: []string{"newrec-coolorstuff=2", "cool=2"}},
		{name: "cool-gone", script: tight, describe: "a satisfied Recommends that loses an alternative stays satisfied", request: "Install: cool-gone", universe: aptTightenUniverse, recommends: true, change: []string{"cool-gone=2", "stuff=2"}},
		{name: "super-overtake", script: tight, describe: "a satisfied Recommends that can no longer be met by what is installed takes the new alternative", request: "Install: super-overtake", universe: aptTightenUniverse, recommends: true, change: []string{"super-overtake=2", "super=2"}},
		{name: "upgrade-over-new", script: tight, describe: "upgrading an installed alternative comes before a new one", request: "Install: upgrade-over-new", universe: aptTightenUniverse, recommends: true, change: []string{"upgrade-over-new=2", "cool=2"}},
		{name: "now-satisfiable", script: tight, describe: "a Recommends the installed version could not meet stays unmet, though now satisfiable", request: "Install: now-satisfiable", universe: aptTightenUniverse, recommends: true, change: []string{"now-satisfiable=2"}},
		{name: "dist-upgrade-recommends", script: "test-bug-507998-dist-upgrade-recommends", describe: "dist-upgrade keeps a Recommends satisfied (by tshark) and installs nothing new (wireshark)", request: "Upgrade-All: yes", universe: aptWiresharkUniverse, recommends: true, change: []string{"tshark=1.2.1-2", "wireshark-common=1.2.1-2"}},
		{name: "upgrade-by-source", script: "test-apt-get-upgrade-by-source", describe: "installing a package upgrades the installed binary packages of its source with it", request: "Install: pkg", universe: aptSourceUniverse, change: []string{"pkg=2", "pkg-foo=2", "pkg-bar=2"}},
		{name: "removed-depends-not-upgraded", script: "test-not-upgrading-removed-depends", describe: "a package the upgrade Breaks is removed rather than upgraded to a version that needs a conflicting package", request: "Install: main", universe: aptRemovedUniverse, change: []string{"main=2"}, remove: []string{"bad"}},
		{name: "removed-depends-meta", script: "test-not-upgrading-removed-depends", describe: "the same through a dependency", request: "Install: meta", universe: aptRemovedUniverse, change: []string{"main=2", "meta=1"}, remove: []string{"bad"},
			known: "deliberate: grey keeps the installed set before the alternatives' order, so it takes the second alternative (else) and removes nothing, where apt upgrades main and removes bad, which main 2 Breaks and which cannot be upgraded (docs/resolver.md, rule alternative-keeps-installed)"},
	}
	return cs
}

// aptSuiteRules turns the cases into scenario rules.
func aptSuiteRules() []rule {
	var out []rule
	for _, c := range aptCases() {
		r := rule{name: c.name, describe: c.describe, request: c.request, universe: c.universe,
			recommends: c.recommends, known: c.known, source: aptSuiteSource + c.script}
		if c.err {
			r.expect = []string{"error"}
		} else {
			r.expect = []string{c.expectFinal()}
		}
		out = append(out, r)
	}
	return out
}

// TestAptSuiteUpToDate keeps testdata/resolver/apt equal to the table
// (-update rewrites it). TestScenarios runs the files with grey,
// TestAptSuiteSolvers with grey, apt's solver and aspcud.
func TestAptSuiteUpToDate(t *testing.T) {
	checkTable(t, "apt", aptSuiteRules())
}
