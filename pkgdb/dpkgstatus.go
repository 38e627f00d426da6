package pkgdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/greypm/grey/deb/control"
)

// DpkgAdminDir is dpkg's database directory, relative to the root.
const DpkgAdminDir = "var/lib/dpkg"

// StatusStanza returns p as a stanza of dpkg's status file: the package's
// control fields with Status after Package and, for packages with
// conffiles, a Conffiles field of "path md5" lines.
func StatusStanza(p *Package) (*control.Stanza, error) {
	ctl, err := control.ParseOne([]byte(p.Control))
	if err != nil {
		return nil, fmt.Errorf("control of %s: %w", p.Name, err)
	}
	out := &control.Stanza{}
	for _, f := range ctl.Fields {
		switch strings.ToLower(f.Name) {
		case "status", "conffiles", "config-version":
			continue
		}
		out.Fields = append(out.Fields, f)
		if strings.EqualFold(f.Name, "Package") {
			out.Fields = append(out.Fields, control.Field{Name: "Status", Value: p.Status})
		}
		if strings.EqualFold(f.Name, "Version") && p.ConfigVersion != "" {
			out.Fields = append(out.Fields, control.Field{Name: "Config-Version", Value: p.ConfigVersion})
		}
	}
	if len(p.Conffiles) > 0 {
		var b strings.Builder
		for _, c := range p.Conffiles {
			fmt.Fprintf(&b, "\n %s %s", c.Path, c.MD5)
		}
		out.Fields = append(out.Fields, control.Field{Name: "Conffiles", Value: b.String()})
	}
	if p.State() == StateNotInstalled {
		// What dpkg keeps of a package whose installation was undone.
		out.Fields = keepFields(out.Fields, "Package", "Status", "Architecture")
	}
	if p.State() == StateConfigFiles {
		// dpkg keeps only the identity of a config-files package in status
		// meaningful; its dependencies no longer count.
		out.Fields = keepFields(out.Fields, "Package", "Status", "Priority", "Section", "Installed-Size",
			"Maintainer", "Architecture", "Multi-Arch", "Source", "Version", "Config-Version", "Conffiles", "Description")
	}
	return out, nil
}

func keepFields(fs []control.Field, names ...string) []control.Field {
	var out []control.Field
	for _, f := range fs {
		for _, n := range names {
			if strings.EqualFold(f.Name, n) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// DpkgStatus renders dpkg's status file for pkgs, sorted by name.
func DpkgStatus(pkgs []*Package) ([]byte, error) {
	sorted := append([]*Package(nil), pkgs...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Name != sorted[j].Name {
			return sorted[i].Name < sorted[j].Name
		}
		return sorted[i].Architecture < sorted[j].Architecture
	})
	var buf bytes.Buffer
	w := control.NewWriter(&buf)
	for _, p := range sorted {
		s, err := StatusStanza(p)
		if err != nil {
			return nil, err
		}
		if err := w.Write(s); err != nil {
			return nil, fmt.Errorf("status stanza of %s: %w", p.Name, err)
		}
	}
	return buf.Bytes(), nil
}

// ListFile renders dpkg's info/PKG.list: "/." and then every path the
// package installed, one a line, in the order it installed them; empty
// for a package with no path left (a config-files package without
// conffiles, as dpkg writes it).
func ListFile(p *Package) []byte {
	var b bytes.Buffer
	b.WriteString("/.\n")
	n := 0
	for _, f := range p.Files {
		if f.Path == "/" || f.Path == "/." {
			continue
		}
		b.WriteString(f.Path)
		b.WriteByte('\n')
		n++
	}
	if n == 0 {
		return []byte{}
	}
	return b.Bytes()
}

// ConffilesFile renders dpkg's info/PKG.conffiles.
func ConffilesFile(p *Package) []byte {
	var b bytes.Buffer
	for _, c := range p.Conffiles {
		b.WriteString(c.Path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// EnsureDpkgAdminDir creates what an empty dpkg database needs under root
// (info/, updates/, triggers/, an empty available, status and
// triggers/Unincorp), without touching anything that exists, so dpkg can
// read and lock it. Without triggers/Unincorp dpkg takes the database for
// one written before triggers existed and activates every interest of
// every package.
func EnsureDpkgAdminDir(root string) error {
	admin := filepath.Join(root, DpkgAdminDir)
	for _, d := range []string{"info", "updates", "triggers", "alternatives"} {
		if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
			return fmt.Errorf("dpkg admin dir: %w", err)
		}
	}
	for _, f := range []string{"available", "status", "triggers/Unincorp"} {
		p := filepath.Join(admin, f)
		fd, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			err = fd.Close()
		} else if os.IsExist(err) {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("dpkg admin dir: %w", err)
		}
	}
	// info/format 1 says the info files of Multi-Arch: same packages
	// carry ":arch" in their names; without it dpkg reads them as format 0
	// and does not find them.
	format := filepath.Join(admin, "info", "format")
	if _, err := os.Stat(format); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(format, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("dpkg admin dir: %w", err)
		}
	}
	return nil
}
