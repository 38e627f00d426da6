package transaction

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/pkgdb"
)

// AuditProblem is one kind of problem "dpkg --audit" reports, with the
// packages that have it.
type AuditProblem struct {
	// Kind names the problem: "reinstreq", a state ("unpacked",
	// "half-configured", "half-installed", "triggers-awaited",
	// "triggers-pending"), "missing-list" or "missing-md5sums".
	Kind string `json:"kind"`
	// Explanation is dpkg's text for it.
	Explanation string         `json:"explanation"`
	Packages    []AuditPackage `json:"packages"`
}

// AuditPackage is one package with a problem.
type AuditPackage struct {
	// Name is arch-qualified for Multi-Arch: same packages, as dpkg
	// prints it.
	Name     string `json:"name"`
	Status   string `json:"status"`
	Synopsis string `json:"synopsis"`
}

// auditChecks are dpkg's checks, in dpkg's order, with its explanations.
var auditChecks = []struct {
	kind, explanation string
}{
	{"reinstreq", "The following packages are in a mess due to serious problems during\ninstallation.  They must be reinstalled for them (and any packages\nthat depend on them) to function properly:\n"},
	{pkgdb.StateUnpacked, "The following packages have been unpacked but not yet configured.\nThey must be configured using dpkg --configure or the configure\nmenu option in dselect for them to work:\n"},
	{pkgdb.StateHalfConfigured, "The following packages are only half configured, probably due to problems\nconfiguring them the first time.  The configuration should be retried using\ndpkg --configure <package> or the configure menu option in dselect:\n"},
	{pkgdb.StateHalfInstalled, "The following packages are only half installed, due to problems during\ninstallation.  The installation can probably be completed by retrying it;\nthe packages can be removed using dselect or dpkg --remove:\n"},
	{pkgdb.StateTriggersAwaited, "The following packages are awaiting processing of triggers that they\nhave activated in other packages.  This processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n"},
	{pkgdb.StateTriggersPending, "The following packages have been triggered, but the trigger processing\nhas not yet been done.  Trigger processing can be requested using\ndselect or dpkg --configure --pending (or dpkg --triggers-only):\n"},
	{"missing-list", "The following packages are missing the list control file in the\ndatabase, they need to be reinstalled:\n"},
	{"missing-md5sums", "The following packages are missing the md5sums control file in the\ndatabase, they need to be reinstalled:\n"},
}

// Audit finds what "dpkg --audit" finds in the root: packages that need
// reinstalling, that are unpacked, half-configured, half-installed or
// waiting for triggers, and installed packages missing their list or
// md5sums info file. An empty result means a clean root.
func Audit(db DB, root string) ([]AuditProblem, error) {
	var pkgs []*pkgdb.Package
	if err := db.View(func(tx *bolt.Tx) (err error) { pkgs, err = pkgdb.Packages(tx); return }); err != nil {
		return nil, err
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Architecture < pkgs[j].Architecture
	})
	has := func(p *pkgdb.Package, ext string) (bool, error) {
		_, err := os.Stat(filepath.Join(root, pkgdb.DpkgAdminDir, "info", p.InfoName()+"."+ext))
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	var out []AuditProblem
	for _, c := range auditChecks {
		pr := AuditProblem{Kind: c.kind, Explanation: c.explanation}
		for _, p := range pkgs {
			reinstreq := strings.Contains(p.Status, " reinstreq ")
			var hit bool
			switch c.kind {
			case "reinstreq":
				hit = reinstreq
			case "missing-list", "missing-md5sums":
				if p.IsInstalled() {
					ok, err := has(p, strings.TrimPrefix(c.kind, "missing-"))
					if err != nil {
						return nil, err
					}
					hit = !ok
				}
			default:
				hit = !reinstreq && p.State() == c.kind
			}
			if hit {
				pr.Packages = append(pr.Packages, AuditPackage{Name: p.InfoName(), Status: p.Status, Synopsis: synopsis(p)})
			}
		}
		if len(pr.Packages) > 0 {
			out = append(out, pr)
		}
	}
	return out, nil
}

// synopsis is the first line of p's Description.
func synopsis(p *pkgdb.Package) string {
	st, err := control.ParseOne([]byte(p.Control))
	if err != nil {
		return ""
	}
	d, _, _ := strings.Cut(st.Get("Description"), "\n")
	return strings.TrimSpace(d)
}

// FormatAudit writes problems as "dpkg --audit" prints them.
func FormatAudit(problems []AuditProblem) string {
	var b strings.Builder
	for _, pr := range problems {
		b.WriteString(pr.Explanation)
		for _, p := range pr.Packages {
			maxl := 57
			if l := len(p.Name); l > 20 {
				maxl -= l - 20
			}
			syn := p.Synopsis
			if maxl < 0 {
				maxl = 0
			}
			if len(syn) > maxl {
				syn = syn[:maxl]
			}
			fmt.Fprintf(&b, " %-20s %s\n", p.Name, syn)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
