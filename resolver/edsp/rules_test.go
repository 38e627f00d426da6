package edsp

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

var update = flag.Bool("update", false, "rewrite testdata/resolver/rules/*.edsp from the table in rules_test.go")

// rule is one hand-written scenario. The universe is one package a line:
//
//	NAME VERSION [FLAG...] [; Field: value]...
//
// with flags arch=ARCH, installed, auto, hold, essential, ma=same|foreign|allowed,
// pin=N, cand (this version is apt's candidate; default: the newest of its
// name and architecture). The request lines are Request stanza fields;
// Install and Remove names without ":" get the native architecture, as apt
// writes them. The expectation is written by hand, from Debian policy and
// apt's habits, never from the solver's output.
type rule struct {
	name, describe string
	request        string
	universe       string
	recommends     bool
	expect         []string
	// known, when set, is a known failure of the resolver: the scenario
	// is kept (with its honest expectation) and skipped with this reason.
	known string
	// source, when set, names where the scenario comes from.
	source string
}

var rules = []rule{
	{name: "basic-install", describe: "a dependency is pulled in",
		request: "Install: a", universe: "a 1 ; Depends: b\nb 1", expect: []string{"final a=1 b=1"}},
	{name: "already-installed", describe: "installing an installed package changes nothing",
		request: "Install: a", universe: "a 1 installed ; Depends: b\nb 1 installed auto", expect: []string{"final a=1 b=1"}},
	{name: "missing-dependency", describe: "a dependency nothing satisfies makes the request fail",
		request: "Install: a", universe: "a 1 ; Depends: nothere", expect: []string{"error a nothere"}},
	{name: "alternative-first", describe: "the first alternative is chosen (policy 7.1, apt)",
		request: "Install: a", universe: "a 1 ; Depends: b | c\nb 1\nc 1", expect: []string{"final a=1 b=1"}},
	{name: "alternative-first-missing", describe: "the first satisfiable alternative is chosen",
		request: "Install: a", universe: "a 1 ; Depends: gone | c\nc 1", expect: []string{"final a=1 c=1"}},
	{name: "alternative-installed-second", describe: "an installed later alternative already satisfies the relation",
		request: "Install: a", universe: "a 1 ; Depends: b | c\nb 1\nc 1 installed", expect: []string{"final a=1 c=1"}},
	{name: "alternative-first-conflicts", describe: "the first alternative conflicts with another dependency, so the second is taken",
		request: "Install: a", universe: "a 1 ; Depends: b | c, d\nb 1 ; Conflicts: d\nc 1\nd 1", expect: []string{"final a=1 c=1 d=1"}},
	{name: "alternative-keeps-installed", describe: "an alternative that conflicts with an installed package is passed over for one that keeps it (grey's minimal change; apt's MarkInstall takes a and removes x)",
		request: "Install: p", universe: "p 1 ; Depends: a | b\na 1 ; Conflicts: x\nb 1\nx 1 installed auto", expect: []string{"final b=1 p=1 x=1"}},
	{name: "alternative-versioned", describe: "an alternative whose version is too old is skipped",
		request: "Install: a", universe: "a 1 ; Depends: b (>= 2) | c\nb 1\nc 1", expect: []string{"final a=1 c=1"}},
	{name: "virtual-single-provider", describe: "a virtual package with one provider",
		request: "Install: a", universe: "a 1 ; Depends: mail-transport-agent\npostfix 3.7 ; Provides: mail-transport-agent", expect: []string{"final a=1 postfix=3.7"}},
	{name: "virtual-real-preferred", describe: "a real package of the name is preferred to a provider",
		request: "Install: a", universe: "a 1 ; Depends: x\nx 1\ny 1 ; Provides: x", expect: []string{"final a=1 x=1"}},
	{name: "virtual-installed-provider", describe: "an installed provider satisfies the virtual dependency",
		request: "Install: a", universe: "a 1 ; Depends: mail-transport-agent\nexim4 4 ; Provides: mail-transport-agent ; Conflicts: mail-transport-agent\npostfix 3 installed ; Provides: mail-transport-agent ; Conflicts: mail-transport-agent",
		expect: []string{"final a=1 postfix=3"}},
	{name: "virtual-no-provider", describe: "a virtual package nobody provides",
		request: "Install: a", universe: "a 1 ; Depends: ghost\nb 1 ; Depends: ghost", expect: []string{"error a ghost"}},
	{name: "versioned-provides", describe: "a versioned Provides satisfies a versioned dependency",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 2)\np 1 ; Provides: v (= 3)", expect: []string{"final a=1 p=1"}},
	{name: "versioned-provides-too-old", describe: "a versioned Provides with a too-old version does not",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 2)\np 1 ; Provides: v (= 1)", expect: []string{"error a v"}},
	{name: "unversioned-provides-versioned-dep", describe: "an unversioned Provides never satisfies a versioned dependency (policy 7.5)",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 1)\np 1 ; Provides: v", expect: []string{"error a v"}},
	{name: "versioned-provides-choice", describe: "of two providers, only the one whose provided version fits",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 2)\nold 1 ; Provides: v (= 1)\nnew 1 ; Provides: v (= 2)", expect: []string{"final a=1 new=1"}},
	{name: "versioned-dependency-newest", describe: "the candidate (newest) version is installed",
		request: "Install: a", universe: "a 1 ; Depends: b (>= 1)\nb 1\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "strict-pinning-blocks-old", describe: "with Strict-Pinning only the candidate may be installed, so an exact older version cannot",
		request: "Install: a", universe: "a 1 ; Depends: b (= 1)\nb 1\nb 2", expect: []string{"error a b"}},
	{name: "no-strict-pinning-old", describe: "without Strict-Pinning an older version may be installed",
		request: "Install: a\nStrict-Pinning: no", universe: "a 1 ; Depends: b (= 1)\nb 1\nb 2", expect: []string{"final a=1 b=1"}},
	{name: "pinned-candidate-older", describe: "the candidate is pinned to an older version and is what gets installed",
		request: "Install: b", universe: "b 1 cand pin=990\nb 2 pin=500", expect: []string{"final b=1"}},
	{name: "pinned-non-candidate-newer", describe: "a newer version that is not the candidate (say, experimental) is not installed",
		request: "Install: a", universe: "a 1 ; Depends: b\nb 2 cand\nb 3 pin=1", expect: []string{"final a=1 b=2"}},
	{name: "pinned-non-candidate-needed", describe: "a dependency only a non-candidate version satisfies fails under Strict-Pinning",
		request: "Install: a", universe: "a 1 ; Depends: b (>= 3)\nb 2 cand\nb 3 pin=1", expect: []string{"error a b"}},
	{name: "pinned-hold", describe: "a held package (its candidate is the installed version) is not upgraded",
		request: "Upgrade-All: yes\nForbid-Remove: yes\nForbid-New-Install: yes", universe: "a 1 installed hold cand\na 2", expect: []string{"final a=1"}},
	{name: "conflicts-requested-pair", describe: "two requested packages that conflict",
		request: "Install: a b", universe: "a 1 ; Conflicts: b\nb 1", expect: []string{"error a b conflicts"}},
	{name: "conflicts-removes-installed", describe: "installing a package removes an installed one it conflicts with",
		request: "Install: a", universe: "a 1 ; Conflicts: b\nb 1 installed", expect: []string{"final a=1"}},
	{name: "breaks-removes-installed", describe: "installing a package removes an installed one it breaks",
		request: "Install: a", universe: "a 1 ; Breaks: b\nb 1 installed", expect: []string{"final a=1"}},
	{name: "breaks-upgrades-installed", describe: "Breaks on an old version upgrades the installed package instead of removing it",
		request: "Install: a", universe: "a 1 ; Breaks: b (<< 2)\nb 1 installed\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "conflicts-upgrades-installed", describe: "Conflicts on an old version upgrades the installed package",
		request: "Install: a", universe: "a 1 ; Conflicts: b (<< 2)\nb 1 installed\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "breaks-new-version-fine", describe: "Breaks does not hit a version outside its range",
		request: "Install: a b", universe: "a 1 ; Breaks: b (<< 2)\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "conflicts-self-provides", describe: "a package never conflicts with itself through its own Provides",
		request: "Install: mta", universe: "mta 1 ; Provides: mail-transport-agent ; Conflicts: mail-transport-agent", expect: []string{"final mta=1"}},
	{name: "conflicts-virtual-pair", describe: "two providers that each conflict with the virtual name cannot be installed together",
		request: "Install: x y", universe: "x 1 ; Provides: v ; Conflicts: v\ny 1 ; Provides: v ; Conflicts: v", expect: []string{"error x y"}},
	{name: "conflicts-versioned-provides", describe: "a versioned Conflicts hits a versioned Provides in its range only",
		request: "Install: a", universe: "a 1 ; Depends: p | q ; Conflicts: v (<< 2)\np 1 ; Provides: v (= 1)\nq 1 ; Provides: v (= 3)", expect: []string{"final a=1 q=1"}},
	{name: "dependency-conflicts-installed-essential", describe: "a package that conflicts with an Essential installed package cannot be installed",
		request: "Install: a", universe: "a 1 ; Conflicts: base\nbase 1 installed essential", expect: []string{"error base Essential"}},
	{name: "essential-not-removed-on-request", describe: "removing an Essential package is refused (EDSP cannot carry apt's force)",
		request: "Remove: base", universe: "base 1 installed essential", expect: []string{"error base Essential"}},
	{name: "essential-upgraded-for-dependency", describe: "an Essential package is upgraded when a new package needs a newer version",
		request: "Install: a", universe: "a 1 ; Depends: base (>= 2)\nbase 1 installed essential\nbase 2 essential", expect: []string{"final a=1 base=2"}},
	{name: "essential-not-added", describe: "Essential packages that are not installed are not added by an install",
		request: "Install: a", universe: "a 1\nbase 1 essential", expect: []string{"final a=1"}},
	{name: "upgrade-all", describe: "upgrade brings every installed package to its candidate",
		request: "Upgrade-All: yes\nForbid-Remove: yes\nForbid-New-Install: yes", universe: "a 1 installed\na 2\nb 1 installed auto\nb 2", expect: []string{"final a=2 b=2"}},
	{name: "upgrade-keeps-unchanged", describe: "full upgrade keeps packages that have no newer version",
		request: "Upgrade-All: yes", universe: "a 1 installed\nb 1 installed\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "full-upgrade-new-dependency", describe: "full upgrade installs a new dependency of the new version",
		request: "Upgrade-All: yes", universe: "a 1 installed\na 2 ; Depends: c\nc 1", expect: []string{"final a=2 c=1"}},
	{name: "upgrade-held-back-new-dependency", describe: "a plain upgrade (no new packages) keeps the old version when the new one needs a new package",
		request: "Upgrade-All: yes\nForbid-Remove: yes\nForbid-New-Install: yes", universe: "a 1 installed\na 2 ; Depends: c\nc 1", expect: []string{"final a=1"}},
	{name: "full-upgrade-needs-removal", describe: "full upgrade removes a package the new version conflicts with",
		request: "Upgrade-All: yes", universe: "a 1 installed\na 2 ; Conflicts: b\nb 1 installed", expect: []string{"valid", "contains a=2", "absent b"}},
	{name: "upgrade-no-removal", describe: "a plain upgrade does not remove: the conflicting upgrade is held back",
		request: "Upgrade-All: yes\nForbid-Remove: yes\nForbid-New-Install: yes", universe: "a 1 installed\na 2 ; Conflicts: b\nb 1 installed", expect: []string{"final a=1 b=1"}},
	{name: "full-upgrade-drops-dependency", describe: "the new version no longer needs b; without autoremove b stays",
		request: "Upgrade-All: yes", universe: "a 1 installed ; Depends: b\na 2\nb 1 installed auto", expect: []string{"final a=2 b=1"}},
	{name: "full-upgrade-autoremove", describe: "with autoremove the no longer needed automatic b goes",
		request: "Upgrade-All: yes\nAutoremove: yes", universe: "a 1 installed ; Depends: b\na 2\nb 1 installed auto", expect: []string{"final a=2"}},
	{name: "multiarch-same-coinstall", describe: "a Multi-Arch: same library is installed for a second architecture",
		request: "Install: libfoo:i386\nArchitectures: amd64 i386", universe: "libfoo 1 installed ma=same\nlibfoo 1 arch=i386 ma=same", expect: []string{"final libfoo:i386=1 libfoo=1"}},
	{name: "multiarch-same-version-skew", describe: "Multi-Arch: same instances must share a version, so the native one is upgraded",
		request: "Install: libfoo:i386\nArchitectures: amd64 i386", universe: "libfoo 1 installed ma=same\nlibfoo 2 ma=same\nlibfoo 2 arch=i386 ma=same", expect: []string{"final libfoo:i386=2 libfoo=2"}},
	{name: "multiarch-not-same", describe: "a package that is not Multi-Arch: same cannot be installed for two architectures",
		request: "Install: tool:i386\nArchitectures: amd64 i386", universe: "tool 1 installed\ntool 1 arch=i386", expect: []string{"final tool:i386=1"}},
	{name: "multiarch-foreign", describe: "a Multi-Arch: foreign package of another architecture satisfies a plain dependency",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Depends: tool\ntool 1 arch=i386 ma=foreign", expect: []string{"final a=1 tool:i386=1"}},
	{name: "multiarch-no-cross", describe: "a plain dependency is not satisfied by another architecture's package",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Depends: lib\nlib 1 arch=i386 ma=same", expect: []string{"error a lib"}},
	{name: "multiarch-any-allowed", describe: "name:any is satisfied by a Multi-Arch: allowed package",
		request: "Install: a", universe: "a 1 ; Depends: python3:any\npython3 3.11 ma=allowed", expect: []string{"final a=1 python3=3.11"}},
	{name: "multiarch-any-not-allowed", describe: "name:any is not satisfied by a package that is not Multi-Arch: allowed",
		request: "Install: a", universe: "a 1 ; Depends: perl:any\nperl 5.36", expect: []string{"error a perl"}},
	{name: "multiarch-all-depends-native", describe: "an Architecture: all package's dependency is satisfied by the native architecture",
		request: "Install: doc\nArchitectures: amd64 i386", universe: "doc 1 arch=all ; Depends: lib\nlib 1 ma=same\nlib 1 arch=i386 ma=same", expect: []string{"final doc=1 lib=1"}},
	{name: "multiarch-native-qualifier", describe: "name:native picks the native architecture's package",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Depends: lib:native\nlib 1 ma=same\nlib 1 arch=i386 ma=same", expect: []string{"final a=1 lib=1"}},
	{name: "multiarch-explicit-arch", describe: "name:i386 picks that architecture's package",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Depends: lib:i386\nlib 1 ma=same\nlib 1 arch=i386 ma=same", expect: []string{"final a=1 lib:i386=1"}},
	{name: "multiarch-allowed-plain-dependency", describe: "Multi-Arch: allowed crosses architectures only for name:any, not for a plain dependency",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Depends: tool\ntool 1 arch=i386 ma=allowed", expect: []string{"error a tool"}},
	{name: "conflicts-arch-qualified", describe: "an arch-qualified Conflicts hits only that architecture",
		request: "Install: a\nArchitectures: amd64 i386", universe: "a 1 ; Conflicts: b:i386\nb 1 installed", expect: []string{"final a=1 b=1"}},
	{name: "replaces-does-not-remove", describe: "Replaces alone does not remove the replaced package",
		request: "Install: a", universe: "a 1 ; Replaces: b\nb 1 installed", expect: []string{"final a=1 b=1"}},
	{name: "suggests-ignored", describe: "Suggests are never installed, even with recommends on",
		request: "Install: a", universe: "a 1 ; Suggests: s\ns 1", recommends: true, expect: []string{"final a=1"}},
	{name: "provides-two-versions", describe: "a package may provide a virtual name at two versions",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 2)\np 1 ; Provides: v (= 1), v (= 2)", expect: []string{"final a=1 p=1"}},
	{name: "pre-depends", describe: "Pre-Depends pulls its target in",
		request: "Install: a", universe: "a 1 ; Pre-Depends: b\nb 1", expect: []string{"final a=1 b=1"}},
	{name: "pre-depends-versioned-upgrade", describe: "a versioned Pre-Depends upgrades the installed target",
		request: "Install: a", universe: "a 1 ; Pre-Depends: b (>= 2)\nb 1 installed\nb 2", expect: []string{"final a=1 b=2"}},
	{name: "pre-depends-missing", describe: "an unsatisfiable Pre-Depends fails the request",
		request: "Install: a", universe: "a 1 ; Pre-Depends: b (>= 2)\nb 1", expect: []string{"error a b"}},
	{name: "recommends-on", describe: "with recommends on, Recommends are installed",
		request: "Install: a", universe: "a 1 ; Recommends: r\nr 1", recommends: true, expect: []string{"final a=1 r=1"}},
	{name: "recommends-off", describe: "with recommends off, they are not",
		request: "Install: a", universe: "a 1 ; Recommends: r\nr 1", expect: []string{"final a=1"}},
	{name: "recommends-missing", describe: "a Recommends nothing satisfies is skipped: it is a soft goal",
		request: "Install: a", universe: "a 1 ; Recommends: gone", recommends: true, expect: []string{"final a=1"}},
	{name: "recommends-conflicting", describe: "a Recommends that conflicts with a dependency is skipped",
		request: "Install: a", universe: "a 1 ; Depends: b ; Recommends: r\nb 1\nr 1 ; Conflicts: b", recommends: true, expect: []string{"final a=1 b=1"}},
	{name: "recommends-chain", describe: "a recommended package's dependencies come with it",
		request: "Install: a", universe: "a 1 ; Recommends: r\nr 1 ; Depends: s\ns 1", recommends: true, expect: []string{"final a=1 r=1 s=1"}},
	{name: "autoremove-only", describe: "autoremove removes automatic packages nothing needs, keeps needed ones",
		request: "Autoremove: yes", universe: "a 1 installed ; Depends: b\nb 1 installed auto\nc 1 installed auto", expect: []string{"final a=1 b=1"}},
	{name: "remove-with-autoremove", describe: "removing a package with autoremove also removes its automatic dependencies",
		request: "Remove: a\nAutoremove: yes", universe: "a 1 installed ; Depends: b\nb 1 installed auto\nm 1 installed", expect: []string{"final m=1"}},
	{name: "remove-without-autoremove", describe: "without autoremove the automatic dependencies stay",
		request: "Remove: a", universe: "a 1 installed ; Depends: b\nb 1 installed auto", expect: []string{"final b=1"}},
	{name: "remove-dependents", describe: "removing a package removes the installed packages that depend on it",
		request: "Remove: b", universe: "a 1 installed ; Depends: b\nb 1 installed\nc 1 installed", expect: []string{"final c=1"}},
	{name: "remove-and-install", describe: "a request may remove one package and install another",
		request: "Install: b\nRemove: a", universe: "a 1 installed\nb 1", expect: []string{"final b=1"}},
	{name: "install-arch-all", describe: "apt names an Architecture: all package with the native architecture",
		request: "Install: doc:amd64", universe: "doc 1 arch=all", expect: []string{"final doc=1"}},
	{name: "deep-chain", describe: "a chain of five dependencies",
		request: "Install: a", universe: "a 1 ; Depends: b\nb 1 ; Depends: c\nc 1 ; Depends: d\nd 1 ; Depends: e\ne 1", expect: []string{"final a=1 b=1 c=1 d=1 e=1"}},
	{name: "diamond-versions", describe: "two paths to one package, one of them versioned",
		request: "Install: a", universe: "a 1 ; Depends: b, c\nb 1 ; Depends: d (>= 2)\nc 1 ; Depends: d\nd 1\nd 2", expect: []string{"final a=1 b=1 c=1 d=2"}},
	{name: "dependency-cycle", describe: "mutual dependencies are fine",
		request: "Install: a", universe: "a 1 ; Depends: b\nb 1 ; Depends: a", expect: []string{"final a=1 b=1"}},
	{name: "cycle-with-conflict", describe: "a dependency that conflicts back cannot be installed",
		request: "Install: a", universe: "a 1 ; Depends: b\nb 1 ; Conflicts: a", expect: []string{"error a b"}},
	{name: "install-several", describe: "several packages at once, sharing a dependency",
		request: "Install: a b c", universe: "a 1 ; Depends: lib\nb 1 ; Depends: lib\nc 1\nlib 1", expect: []string{"final a=1 b=1 c=1 lib=1"}},
	{name: "fewest-packages", describe: "an already satisfied alternative is not duplicated",
		request: "Install: a b", universe: "a 1 ; Depends: x | y\nb 1 ; Depends: y\nx 1\ny 1", expect: []string{"valid", "contains a=1 b=1 y=1"}},
	// Issue 15, point 1: what autoremove keeps, as apt's MarkRequired.
	{name: "autoremove-keeps-essential-needs", describe: "autoremove never removes an Essential package, automatic or not, nor what it needs",
		request: "Autoremove: yes", universe: "base 1 installed auto essential ; Depends: lib\nlib 1 installed auto\nx 1 installed auto", expect: []string{"final base=1 lib=1"}},
	{name: "autoremove-keeps-installed-recommends", describe: "an installed Recommends of a kept package is kept (APT::AutoRemove::RecommendsImportant), Recommends off",
		request: "Autoremove: yes", universe: "a 1 installed ; Recommends: r\nr 1 installed auto\nx 1 installed auto", expect: []string{"final a=1 r=1"}},
	{name: "autoremove-keeps-installed-suggests", describe: "an installed Suggests of a kept package is kept (APT::AutoRemove::SuggestsImportant)",
		request: "Autoremove: yes", universe: "a 1 installed ; Suggests: s\ns 1 installed auto ; Depends: t\nt 1 installed auto\nx 1 installed auto", expect: []string{"final a=1 s=1 t=1"}},
	{name: "autoremove-keeps-every-alternative", describe: "every installed alternative of a kept package's dependency is kept, as apt marks them all",
		request: "Autoremove: yes", universe: "a 1 installed ; Depends: b | c\nb 1 installed auto\nc 1 installed auto", expect: []string{"final a=1 b=1 c=1"}},
	{name: "remove-autoremove-keeps-essential", describe: "removing a package with autoremove keeps automatic Essential packages and their dependencies",
		request: "Remove: git\nAutoremove: yes", universe: "git 1 installed ; Depends: gitman, bash\ngitman 1 installed auto\nbash 1 installed auto essential ; Pre-Depends: libtinfo\nlibtinfo 1 installed auto", expect: []string{"final bash=1 libtinfo=1"}},
	{name: "autoremove-keeps-required", describe: "autoremove keeps automatic packages of Priority required and what they need, as apt's MarkRequired",
		request: "Autoremove: yes", universe: "mount 1 installed auto ; Priority: required ; Depends: libmount\nlibmount 1 installed auto\nx 1 installed auto ; Priority: important", expect: []string{"final libmount=1 mount=1"}},
	{name: "remove-autoremove-essential-suggests", describe: "with the only manual package removed, what an automatic Essential package suggests stays (dpkg suggests apt), and what that needs",
		request: "Remove: git\nAutoremove: yes", universe: "git 1 installed ; Depends: libcurl\nlibcurl 1 installed auto\ndpkg 1 installed auto essential ; Suggests: apt\napt 1 installed auto ; Priority: important ; Depends: gpgv\ngpgv 1 installed auto", expect: []string{"final apt=1 dpkg=1 gpgv=1"}},
	// Issue 15, point 2: upgrades install only new Recommends.
	{name: "upgrade-old-recommends-not-added", describe: "an upgrade does not install a Recommends the installed version already had and the user does not have",
		request: "Upgrade-All: yes", universe: "a 1 installed ; Recommends: r\na 2 ; Recommends: r\nr 1", recommends: true, expect: []string{"final a=2"}},
	{name: "upgrade-new-recommends-added", describe: "an upgrade installs a Recommends that is new in the candidate",
		request: "Upgrade-All: yes", universe: "a 1 installed\na 2 ; Recommends: r\nr 1", recommends: true, expect: []string{"final a=2 r=1"}},
	{name: "upgrade-recommends-new-target", describe: "a Recommends whose target is a new name is new",
		request: "Upgrade-All: yes", universe: "a 1 installed ; Recommends: r\na 2 ; Recommends: s\nr 1\ns 1", recommends: true, expect: []string{"final a=2 s=1"}},
	{name: "upgrade-recommends-satisfied-kept", describe: "a Recommends the installed version had satisfied stays satisfied (its target is upgraded for a versioned one)",
		request: "Upgrade-All: yes", universe: "a 1 installed ; Recommends: r\na 2 ; Recommends: r (>= 2)\nr 1 installed auto\nr 2", recommends: true, expect: []string{"final a=2 r=2"}},
	{name: "install-upgrade-old-recommends-not-added", describe: "installing an installed package (an upgrade) does not add its old unsatisfied Recommends",
		request: "Install: a", universe: "a 1 installed ; Recommends: r\na 2 ; Recommends: r\nr 1", recommends: true, expect: []string{"final a=2"}},
	// Issue 15, point 4: removing changes the installed set as little as possible.
	{name: "remove-no-new-provider", describe: "removing a package removes its dependents instead of installing another provider (apt)",
		request: "Remove: sd", universe: "sd 1 installed ; Provides: logind\nd 1 installed ; Depends: sd | logind\nel 1 ; Provides: logind ; Conflicts: sd\nm 1 installed", expect: []string{"final m=1"}},
	{name: "remove-no-swap-library", describe: "removing systemd does not swap in elogind and remove libsystemd0",
		request: "Remove: systemd", universe: "systemd 1 installed ; Depends: libsystemd0 ; Provides: logind\nlibsystemd0 1 installed auto\npolkitd 1 installed auto ; Depends: default-logind | logind\npk 1 installed ; Depends: polkitd\nelogind 1 ; Provides: logind, default-logind ; Depends: libelogind0 ; Conflicts: systemd\nlibelogind0 1 ; Provides: libsystemd0 ; Conflicts: libsystemd0 ; Replaces: libsystemd0\napt 1 installed ; Depends: libsystemd0", expect: []string{"final apt=1 libsystemd0=1"}},
	{name: "remove-failed-repair-no-upgrade", describe: "a broken installed package whose repair fails leaves, and the upgrade its repair tried is taken back (install sysvinit-core keeps systemd at its version)",
		request: "Install: sysvinit-core", universe: "sysvinit-core 1 ; Conflicts: systemd-sysv\nsystemd-sysv 1 installed ; Depends: systemd ; Conflicts: sysvinit-core\nsystemd 1 installed auto ; Source: systemd\nsystemd 2 ; Source: systemd\nlibpam-systemd 1 installed auto ; Depends: systemd (= 1), systemd-sysv | logind\nlibpam-systemd 2 ; Depends: systemd (= 2), systemd-sysv | logind\nelogind 1 ; Provides: logind ; Conflicts: systemd\napt 1 installed ; Depends: systemd", expect: []string{"final apt=1 systemd=1 sysvinit-core=1"}},
	// Issue 15, point 5: provider choice as apt's.
	{name: "provider-higher-apt-id", describe: "among equal providers, the one the archive lists later (higher APT-ID), not the later name",
		request: "Install: a", universe: "a 1 ; Depends: v\nzed 1 ; Provides: v\nabc 1 ; Provides: v", expect: []string{"final a=1 abc=1"}},
	{name: "provider-upgrade-installed", describe: "an installed provider that satisfies the dependency by upgrading is upgraded, no new provider installed",
		request: "Install: a", universe: "a 1 ; Depends: v (>= 2)\np 1 installed ; Provides: v (= 1)\np 2 ; Provides: v (= 2)\nq 1 ; Provides: v (= 2)", expect: []string{"final a=1 p=2"}},
	{name: "alternative-upgrade-before-new", describe: "an upgrade of an installed first alternative comes before a new second one",
		request: "Install: a", universe: "a 1 ; Depends: b (>= 2) | c\nb 1 installed\nb 2\nc 1", expect: []string{"final a=1 b=2"}},
	// Issue 15, point 3: binary packages of one source move together.
	{name: "source-siblings-upgraded", describe: "upgrading one binary package upgrades the installed others of its source (same source version)",
		request: "Install: app", universe: "app 1 ; Depends: udev (>= 2)\nudev 1 installed auto ; Source: systemd\nudev 2 ; Source: systemd\nsystemd 1 installed ; Source: systemd\nsystemd 2 ; Source: systemd\nlibsystemd0 1 installed auto ; Source: systemd\nlibsystemd0 2 ; Source: systemd\nother 1 installed\nother 2", expect: []string{"final app=1 libsystemd0=2 other=1 systemd=2 udev=2"}},
	{name: "source-siblings-new-package", describe: "installing a new binary package upgrades the installed others of its source (a new mesa-vulkan-drivers upgrades libgl1-mesa-dri), as apt's MarkInstall_UpgradeOtherBinaries",
		request: "Install: app", universe: "app 1 ; Depends: mesa-vulkan-drivers\nmesa-vulkan-drivers 2 ; Source: mesa\nlibgl1-mesa-dri 1 installed auto ; Source: mesa\nlibgl1-mesa-dri 2 ; Source: mesa\nlibgbm1 1 installed auto ; Source: mesa\nlibgbm1 2 ; Source: mesa", expect: []string{"final app=1 libgbm1=2 libgl1-mesa-dri=2 mesa-vulkan-drivers=2"}},
	{name: "source-siblings-other-source-version", describe: "a sibling whose candidate comes from another source version is left alone",
		request: "Install: app", universe: "app 1 ; Depends: udev (>= 2)\nudev 1 installed auto ; Source: systemd\nudev 2 ; Source: systemd\nsystemd 1 installed ; Source: systemd\nsystemd 3 ; Source: systemd", expect: []string{"final app=1 systemd=1 udev=2"}},
	{name: "source-siblings-not-new", describe: "a binary package of the source that is not installed is not installed",
		request: "Install: app", universe: "app 1 ; Depends: udev (>= 2)\nudev 1 installed auto ; Source: systemd\nudev 2 ; Source: systemd\nsystemd-container 2 ; Source: systemd", expect: []string{"final app=1 udev=2"}},
	// Issue 15, point 6: no silent no-ops.
	{name: "install-installed-candidate-broken", describe: "installing an installed package whose candidate cannot be installed is an error, not a no-op",
		request: "Install: a", universe: "a 1 installed\na 2 ; Depends: gone", expect: []string{"error a gone"}},
	{name: "install-installed-candidate-pinned-old", describe: "installing an installed package whose candidate is the installed version changes nothing",
		request: "Install: a", universe: "a 1 installed cand\na 2 pin=1", expect: []string{"final a=1"}},
	// Issue 15, point 6: a rebuild of the installed version (same version,
	// other control data: its own stanza and APT-ID) is apt's candidate.
	// It comes first, as in apt's dumps (the status file is read last):
	// apt's solver pins APT-Candidate by version string, so it takes the
	// first stanza of that version.
	{name: "rebuild-install", describe: "installing an installed package whose candidate is a rebuild of the installed version (same version, other control data) installs the rebuild, as apt ('1 upgraded')",
		request: "Install: a", universe: "a 1 cand ; Depends: c\na 1 installed\nc 1", expect: []string{"final a=1 c=1", "contains c"}},
	{name: "rebuild-dist-upgrade", describe: "a full upgrade takes the rebuild of an installed version",
		request: "Upgrade-All: yes", universe: "a 1 cand ; Depends: c\na 1 installed\nc 1\nb 1 installed", expect: []string{"final a=1 b=1 c=1"}},
	{name: "rebuild-not-requested", describe: "a rebuild of an installed package the request does not touch is left alone",
		request: "Install: b", universe: "a 1 cand ; Depends: c\na 1 installed\nc 1\nb 1", expect: []string{"final a=1 b=1"}},
	{name: "or-group-virtual-first", describe: "the first alternative is virtual: its provider is chosen",
		request: "Install: a", universe: "a 1 ; Depends: mail-transport-agent | postfix\nexim4 4 ; Provides: mail-transport-agent\npostfix 3", expect: []string{"final a=1 exim4=4"}},
}

// buildRule turns a table entry into a scenario.
func buildRule(r rule) (*Scenario, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", r.describe)
	if r.source != "" {
		fmt.Fprintf(&b, "# source: %s\n", r.source)
	}
	fmt.Fprintf(&b, "# recommends: %s\n", map[bool]string{true: "yes", false: "no"}[r.recommends])
	for _, e := range r.expect {
		fmt.Fprintf(&b, "# expect: %s\n", e)
	}
	if r.known != "" {
		fmt.Fprintf(&b, "# known-failure: %s\n", r.known)
	}
	req := &control.Stanza{}
	req.Set("Request", Version)
	req.Set("Architecture", "amd64")
	for _, line := range strings.Split(r.request, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s: request line %q", r.name, line)
		}
		v = strings.TrimSpace(v)
		if k == "Install" || k == "Remove" {
			var names []string
			for _, n := range strings.Fields(v) {
				if !strings.Contains(n, ":") {
					n += ":amd64"
				}
				names = append(names, n)
			}
			v = strings.Join(names, " ")
		}
		req.Set(k, v)
	}
	req.Set("Solver", "grey")
	reqText, err := control.AppendStanza(nil, req)
	if err != nil {
		return nil, err
	}
	b.Write(reqText)

	type entry struct {
		st    *control.Stanza
		cand  bool
		flags map[string]string
	}
	var entries []*entry
	for i, line := range strings.Split(r.universe, "\n") {
		parts := strings.Split(line, ";")
		words := strings.Fields(parts[0])
		if len(words) < 2 {
			return nil, fmt.Errorf("%s: universe line %q", r.name, line)
		}
		e := &entry{st: &control.Stanza{}, flags: map[string]string{}}
		for _, w := range words[2:] {
			k, v, _ := strings.Cut(w, "=")
			e.flags[k] = v
		}
		arch := "amd64"
		if a, ok := e.flags["arch"]; ok {
			arch = a
		}
		e.st.Set("Package", words[0])
		e.st.Set("Architecture", arch)
		e.st.Set("Version", words[1])
		e.st.Set("APT-ID", strconv.Itoa(i+1))
		if ma, ok := e.flags["ma"]; ok {
			e.st.Set("Multi-Arch", ma)
		}
		if _, ok := e.flags["essential"]; ok {
			e.st.Set("Essential", "yes")
		}
		pin := "500"
		if _, ok := e.flags["installed"]; ok {
			pin = "100"
		}
		if p, ok := e.flags["pin"]; ok {
			pin = p
		}
		e.st.Set("APT-Pin", pin)
		for _, f := range parts[1:] {
			k, v, ok := strings.Cut(strings.TrimSpace(f), ":")
			if !ok {
				return nil, fmt.Errorf("%s: field %q", r.name, f)
			}
			e.st.Set(k, strings.TrimSpace(v))
		}
		for _, fl := range []struct{ flag, field string }{{"installed", "Installed"}, {"auto", "APT-Automatic"}, {"hold", "Hold"}} {
			if _, ok := e.flags[fl.flag]; ok {
				e.st.Set(fl.field, "yes")
			}
		}
		entries = append(entries, e)
	}
	// The candidate: the version marked cand, else the newest.
	groups := map[string][]*entry{}
	for _, e := range entries {
		k := e.st.Get("Package") + ":" + e.st.Get("Architecture")
		groups[k] = append(groups[k], e)
	}
	for _, g := range groups {
		var pick *entry
		for _, e := range g {
			if _, ok := e.flags["cand"]; ok {
				pick = e
			}
		}
		if pick == nil {
			sorted := append([]*entry(nil), g...)
			sort.SliceStable(sorted, func(i, j int) bool {
				c, _ := version.CompareStrings(sorted[i].st.Get("Version"), sorted[j].st.Get("Version"))
				return c > 0
			})
			pick = sorted[0]
		}
		pick.cand = true
	}
	for _, e := range entries {
		if e.cand {
			e.st.Set("APT-Candidate", "yes")
		}
		b.WriteString("\n")
		text, err := control.AppendStanza(nil, e.st)
		if err != nil {
			return nil, err
		}
		b.Write(text)
		if _, err := deb.FromStanza(e.st); err != nil {
			return nil, fmt.Errorf("%s: %w", r.name, err)
		}
	}
	return Read(strings.NewReader(b.String()))
}

// TestRulesUpToDate keeps testdata/resolver/rules equal to the table
// (go test -run TestRulesUpToDate -update rewrites it).
func TestRulesUpToDate(t *testing.T) {
	checkTable(t, "rules", rules)
}

// checkTable compares (or, with -update, writes) the scenario files of a
// table in testdata/resolver/DIR.
func checkTable(t *testing.T, sub string, table []rule) {
	dir := filepath.Join(scenarioDir(t), sub)
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		old, _ := filepath.Glob(filepath.Join(dir, "*.edsp"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	seen := map[string]bool{}
	for _, r := range table {
		if seen[r.name] {
			t.Fatalf("rule %s twice", r.name)
		}
		seen[r.name] = true
		sc, err := buildRule(r)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		var b bytes.Buffer
		if err := sc.Write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, r.name+".edsp")
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s is out of date with its table (go test ./resolver/edsp -run 'TestRulesUpToDate|TestAptSuiteUpToDate' -update)", path)
		}
	}
}
