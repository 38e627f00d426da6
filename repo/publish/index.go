package publish

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

// pkgFieldOrder is the order of a Packages stanza's fields, dpkg's
// (Dpkg::Control::FieldsCore, CTRL_INDEX_PKG), so that an index grey writes
// reads like one dpkg-scanpackages writes for the same files. Fields not
// listed follow, sorted by name, as dpkg sorts them.
var pkgFieldOrder = []string{
	"Package", "Package-Type", "Source", "Version", "Kernel-Version",
	"Built-For-Profiles", "Auto-Built-Package", "Architecture",
	"Subarchitecture", "Installer-Menu-Item", "Build-Essential", "Essential",
	"Protected", "Origin", "Bugs", "Maintainer", "Installed-Size",
	"Pre-Depends", "Depends", "Recommends", "Suggests", "Enhances",
	"Conflicts", "Breaks", "Replaces", "Provides", "Built-Using",
	"Static-Built-Using",
	"Filename", "Size", "MD5sum", "SHA1", "SHA256",
	"Section", "Priority", "Multi-Arch", "Homepage", "Description", "Tag",
	"Task",
}

// pkgFieldRank maps a lower-cased field name to its place in pkgFieldOrder.
func pkgFieldRank(name string) (int, bool) {
	for i, f := range pkgFieldOrder {
		if strings.EqualFold(f, name) {
			return i, true
		}
	}
	return 0, false
}

// archiveFields are the fields Publish computes; a .deb's own control file
// must not decide them (dpkg-scanpackages overrides them too).
var archiveFields = []string{"Filename", "Size", "MD5sum", "SHA1", "SHA256"}

// pkg is one .deb to publish.
type pkg struct {
	src       string // path of the input file
	component string
	name      string
	version   version.Version
	arch      string
	source    string // source package name, for the pool directory
	pool      string // path in the repository, "pool/main/h/hello/hello_1.0_amd64.deb"
	size      int64
	md5       string
	sha1      string
	sha256    string
	stanza    *control.Stanza
	present   bool // the pool already holds this exact file
}

// InputError reports a .deb that cannot be published, naming it.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *InputError) Unwrap() error { return e.Err }

// expandInputs turns files and directories into a sorted list of .deb
// paths; a directory contributes every *.deb below it.
func expandInputs(ctx context.Context, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".deb") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", p, err)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// readPackage hashes the file at path and reads its control stanza.
func readPackage(path, component string, archs []string, readControl ControlReader) (*pkg, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hm, h1, h256 := md5.New(), sha1.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(hm, h1, h256), f)
	if err != nil {
		return nil, &InputError{path, fmt.Errorf("read: %w", err)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, &InputError{path, err}
	}
	st, err := readControl(f, path)
	if err != nil {
		return nil, &InputError{path, err}
	}
	p := &pkg{
		src:       path,
		component: component,
		size:      n,
		md5:       hex.EncodeToString(hm.Sum(nil)),
		sha1:      hex.EncodeToString(h1.Sum(nil)),
		sha256:    hex.EncodeToString(h256.Sum(nil)),
	}
	if err := p.fromControl(st, archs); err != nil {
		return nil, &InputError{path, err}
	}
	return p, nil
}

// ErrBadControl reports a .deb whose control fields cannot be published.
var ErrBadControl = errors.New("bad control file")

func (p *pkg) fromControl(st *control.Stanza, archs []string) error {
	p.name = st.Get("Package")
	if !validPackageName(p.name) {
		return fmt.Errorf("%w: Package %q is not a valid package name", ErrBadControl, p.name)
	}
	vs := st.Get("Version")
	v, err := version.Parse(vs)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadControl, err)
	}
	if !validVersionChars(vs) {
		return fmt.Errorf("%w: Version %q has characters not allowed in a file name", ErrBadControl, vs)
	}
	p.version = v
	p.arch = st.Get("Architecture")
	if !validArch(p.arch) {
		return fmt.Errorf("%w: Architecture %q is not a valid architecture", ErrBadControl, p.arch)
	}
	if p.arch != "all" && !slices.Contains(archs, p.arch) {
		return fmt.Errorf("%w: architecture %s is not published (publishing %s)", ErrWrongArchitecture, p.arch, strings.Join(archs, ", "))
	}
	p.source = p.name
	if s := st.Get("Source"); s != "" {
		// "Source: busybox (1:1.35.0-4)" names the source and its version.
		name, _, _ := strings.Cut(s, " ")
		if !validPackageName(name) {
			return fmt.Errorf("%w: Source %q is not a valid source package name", ErrBadControl, s)
		}
		p.source = name
	}
	p.pool = poolPath(p.component, p.source, p.name, v, p.arch)

	out := &control.Stanza{Fields: make([]control.Field, 0, len(st.Fields)+len(archiveFields))}
	for _, f := range st.Fields {
		if slices.ContainsFunc(archiveFields, func(a string) bool { return strings.EqualFold(a, f.Name) }) {
			continue
		}
		// dpkg-scanpackages drops fields whose value is only blanks.
		if strings.TrimSpace(f.Value) == "" {
			continue
		}
		out.Fields = append(out.Fields, f)
	}
	out.Fields = append(out.Fields,
		control.Field{Name: "Filename", Value: p.pool},
		control.Field{Name: "Size", Value: strconv.FormatInt(p.size, 10)},
		control.Field{Name: "MD5sum", Value: p.md5},
		control.Field{Name: "SHA1", Value: p.sha1},
		control.Field{Name: "SHA256", Value: p.sha256},
	)
	sortFields(out.Fields)
	if err := control.CheckStanza(out); err != nil {
		return fmt.Errorf("%w: %v", ErrBadControl, err)
	}
	p.stanza = out
	return nil
}

// ErrWrongArchitecture reports a .deb for an architecture not published.
var ErrWrongArchitecture = errors.New("architecture not published")

// sortFields orders fields as dpkg does: known fields in pkgFieldOrder's
// order, then the rest by name (byte order, as Perl's cmp).
func sortFields(fields []control.Field) {
	sort.SliceStable(fields, func(i, j int) bool {
		ri, ki := pkgFieldRank(fields[i].Name)
		rj, kj := pkgFieldRank(fields[j].Name)
		switch {
		case ki && kj:
			return ri < rj
		case ki != kj:
			return ki
		}
		return fields[i].Name < fields[j].Name
	})
}

// poolPath returns Debian's pool location of a package: the source name's
// first letter, or its first four for "lib*" sources, then the source name,
// then the canonical file name NAME_VERSION_ARCH.deb without the epoch
// (an epoch's colon is not welcome in URLs and file names).
func poolPath(component, source, name string, v version.Version, arch string) string {
	prefix := source[:1]
	if strings.HasPrefix(source, "lib") && len(source) > 3 {
		prefix = source[:4]
	}
	ver := v.Upstream
	if v.Revision != "" {
		ver += "-" + v.Revision
	}
	return "pool/" + component + "/" + prefix + "/" + source + "/" + name + "_" + ver + "_" + arch + ".deb"
}

// validPackageName follows Debian policy 5.6.1: lower-case letters, digits
// and + - . , at least two characters, starting with a letter or digit. It
// is also what keeps a hostile control file from choosing a pool path
// outside the pool.
func validPackageName(s string) bool {
	if len(s) < 2 || !isLowerAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func validVersionChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLowerAlnum(c) && !(c >= 'A' && c <= 'Z') && !strings.ContainsRune(".+~:-", rune(c)) {
			return false
		}
	}
	return !strings.Contains(s, "..")
}

func validArch(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// sortPackages orders packages by name, then version (dpkg's order), then
// architecture: the order of Debian's and dpkg-scanpackages' indexes, fixed
// so that the output does not depend on the order of the inputs.
func sortPackages(ps []*pkg) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.name != b.name {
			return a.name < b.name
		}
		if c := version.Compare(a.version, b.version); c != 0 {
			return c < 0
		}
		if a.arch != b.arch {
			return a.arch < b.arch
		}
		return a.pool < b.pool
	})
}

// renderPackages writes the Packages index of ps: each stanza followed by a
// blank line, as Debian's archive and dpkg-scanpackages end them.
func renderPackages(ps []*pkg) ([]byte, error) {
	var buf []byte
	for _, p := range ps {
		var err error
		if buf, err = control.AppendStanza(buf, p.stanza); err != nil {
			return nil, fmt.Errorf("%s: %w", p.src, err)
		}
		buf = append(buf, '\n')
	}
	return buf, nil
}

func openInput(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	return f, nil
}
