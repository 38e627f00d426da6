package transaction

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
	"github.com/greypm/grey/repo"
)

// ErrArchInUse: an architecture cannot be removed while packages of it
// are installed (or have config files left).
var ErrArchInUse = errors.New("architecture in use")

// Architectures returns the root's architectures as dpkg knows them: the
// native one (grey's host architecture) first, then the foreign ones from
// var/lib/dpkg/arch, which dpkg --add-architecture writes.
func Architectures(root string) ([]string, error) {
	list, err := dpkgdb.Architectures(root)
	if err != nil {
		return nil, fmt.Errorf("architectures of %s: %w", root, err)
	}
	out := []string{repo.HostArch()}
	for _, a := range list {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// checkArchName refuses what dpkg refuses: anything but letters, digits
// and '-', or a leading '-'.
func checkArchName(a string) error {
	if a == "" || a[0] == '-' || a == "all" || a == "any" {
		return fmt.Errorf("architecture %q is illegal", a)
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("architecture %q is illegal: character %q not allowed (only letters, digits and '-')", a, c)
		}
	}
	return nil
}

// AddArchitecture adds a foreign architecture to the root, as
// dpkg --add-architecture does: var/lib/dpkg/arch lists the native one
// then the foreign ones. Adding one twice, or the native one, changes
// nothing. The caller holds the root's lock.
func AddArchitecture(root, arch string) error {
	if err := checkArchName(arch); err != nil {
		return err
	}
	list, err := Architectures(root)
	if err != nil {
		return err
	}
	if slices.Contains(list, arch) {
		return writeArchFile(root, list)
	}
	return writeArchFile(root, append(list, arch))
}

// RemoveArchitecture removes a foreign architecture, as
// dpkg --remove-architecture does: refused (ErrArchInUse) while a package
// of that architecture is installed or has config files left; the native
// architecture is never removed.
func RemoveArchitecture(db DB, root, arch string) error {
	if err := checkArchName(arch); err != nil {
		return err
	}
	if arch == repo.HostArch() {
		return fmt.Errorf("cannot remove the native architecture %s", arch)
	}
	var users []string
	err := db.View(func(tx *bolt.Tx) error {
		pkgs, err := pkgdb.Packages(tx)
		for _, p := range pkgs {
			if p.Architecture == arch && (p.IsInstalled() || p.IsConfigFiles()) {
				users = append(users, p.Key())
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("cannot remove architecture %s: %w by %s", arch, ErrArchInUse, strings.Join(users, ", "))
	}
	list, err := Architectures(root)
	if err != nil {
		return err
	}
	return writeArchFile(root, slices.DeleteFunc(list, func(a string) bool { return a == arch }))
}

func writeArchFile(root string, list []string) error {
	// EnsureDpkgAdminDir makes dpkg's directories by their paths: none
	// may lead out of the root (statedirs.go).
	if err := checkStateInsideDir(root); err != nil {
		return err
	}
	if err := pkgdb.EnsureDpkgAdminDir(root); err != nil {
		return err
	}
	return writeFileIn(root, pkgdb.DpkgAdminDir+"/arch", []byte(strings.Join(list, "\n")+"\n"), 0o644, true)
}
