package pkgdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/rootfs"
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
	// Where dpkg writes them: Status after Package and the Essential and
	// Protected fields that follow it, Config-Version after Version,
	// Conffiles before Description (else last). A stanza of a package
	// adopted from dpkg comes out byte for byte as dpkg wrote it.
	var conffiles *control.Field
	if len(p.Conffiles) > 0 {
		var b strings.Builder
		for _, c := range p.Conffiles {
			fmt.Fprintf(&b, "\n %s %s", c.Path, c.MD5)
		}
		conffiles = &control.Field{Name: "Conffiles", Value: b.String()}
	}
	out := &control.Stanza{}
	status := false
	for i, f := range ctl.Fields {
		switch strings.ToLower(f.Name) {
		case "status", "conffiles", "config-version":
			continue
		}
		if strings.EqualFold(f.Name, "Description") && conffiles != nil {
			out.Fields = append(out.Fields, *conffiles)
			conffiles = nil
		}
		out.Fields = append(out.Fields, f)
		if !status && (strings.EqualFold(f.Name, "Package") || strings.EqualFold(f.Name, "Essential") || strings.EqualFold(f.Name, "Protected")) {
			if next := i + 1; next >= len(ctl.Fields) || !(strings.EqualFold(ctl.Fields[next].Name, "Essential") || strings.EqualFold(ctl.Fields[next].Name, "Protected")) {
				out.Fields = append(out.Fields, control.Field{Name: "Status", Value: p.Status})
				status = true
			}
		}
		if strings.EqualFold(f.Name, "Version") && p.ConfigVersion != "" {
			out.Fields = append(out.Fields, control.Field{Name: "Config-Version", Value: p.ConfigVersion})
		}
	}
	if conffiles != nil {
		out.Fields = append(out.Fields, *conffiles)
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
// triggers/Unincorp; available only with status, as dpkg reads a
// database without it), without touching anything that exists, so dpkg
// can read and lock it. Without triggers/Unincorp dpkg takes the database
// for one written before triggers existed and activates every interest
// of every package.
//
// Everything is made and looked at through an os.Root of root
// (inroot.go): a var/lib/dpkg or a directory of it that leads out of the
// root is refused, naming it (rootfs.ErrOutside), with nothing made
// there; the files are created exclusively, never through a link.
func EnsureDpkgAdminDir(root string) error {
	r, err := makeRoot(root)
	if err != nil {
		return fmt.Errorf("dpkg admin dir: %w", err)
	}
	defer r.Close()
	admin, err := rootfs.StateDirName(r, DpkgAdminDir)
	if err != nil {
		return fmt.Errorf("dpkg admin dir: %w", err)
	}
	for _, d := range []string{"info", "updates", "triggers", "alternatives"} {
		if err := r.MkdirAll(path.Join(admin, d), 0o755); err != nil {
			return fmt.Errorf("dpkg admin dir: %w", rootfs.Explain(r, "mkdir", path.Join(admin, d), err))
		}
	}
	files := []string{"status", "triggers/Unincorp"}
	if _, err := r.Lstat(path.Join(admin, "status")); errors.Is(err, fs.ErrNotExist) {
		// A new database gets an empty available too; an existing one
		// (a root dpkg made, which may have none) is left as it is.
		files = []string{"available", "status", "triggers/Unincorp"}
	}
	// info/format 1 says the info files of Multi-Arch: same packages
	// carry ":arch" in their names; without it dpkg reads them as format 0
	// and does not find them.
	files = append(files, "info/format")
	for _, f := range files {
		p := path.Join(admin, f)
		fd, err := r.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
		if err == nil {
			if f == "info/format" {
				_, err = fd.WriteString("1\n")
			}
			if cerr := fd.Close(); err == nil {
				err = cerr
			}
		} else if errors.Is(err, fs.ErrExist) {
			err = nil
		} else {
			err = rootfs.Explain(r, "create", p, err)
		}
		if err != nil {
			return fmt.Errorf("dpkg admin dir: %w", err)
		}
	}
	return nil
}
