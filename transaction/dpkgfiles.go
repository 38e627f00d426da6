package transaction

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/pkgdb"
)

// Files of the root that decide, as they decide for dpkg, who owns an
// unpacked file, what mode it gets and where it goes.
const (
	passwdFile       = "etc/passwd"
	groupFile        = "etc/group"
	statOverrideFile = pkgdb.DpkgAdminDir + "/statoverride"
	diversionsFile   = pkgdb.DpkgAdminDir + "/diversions"
)

// dpkgFiles holds what dpkg consults for every file it unpacks or
// removes: the root's user and group names, dpkg-statoverride's overrides
// and dpkg-divert's diversions. Read once per transaction, before staging.
// A nil *dpkgFiles knows no names, overrides or diversions.
type dpkgFiles struct {
	users, groups map[string]int
	// overrides maps "/usr/bin/x" to its registered owner and mode.
	overrides map[string]statOverride
	// diversions maps a diverted path ("/usr/bin/x") to where it goes.
	diversions map[string]diversion
	// divertedTo maps each divert-to name back to the diverted path.
	divertedTo map[string]string
}

// statOverride is one line of dpkg's statoverride file.
type statOverride struct {
	uid, gid int
	mode     fs.FileMode // permission bits and fs.ModeSetuid/Setgid/Sticky
}

// diversion is one entry of dpkg's diversions file.
type diversion struct {
	to string // "/usr/bin/x.distrib"
	// pkg is the diverting package; "" for a local diversion
	// (dpkg-divert --local, ":" in the file), which diverts every
	// package's copy.
	pkg string
}

// loadDpkgFiles reads the root's passwd, group, statoverride and
// diversions files through the os.Root of the root, their symbolic links
// followed inside it (rootfs); a missing one is empty. Errors name the
// file and line.
func loadDpkgFiles(root *os.Root) (*dpkgFiles, error) {
	d := &dpkgFiles{}
	var err error
	read := func(rel string) ([]byte, error) {
		b, err := rootfs.ReadFile(root, rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	b, err := read(passwdFile)
	if err != nil {
		return nil, err
	}
	d.users = parseIDFile(b, 2)
	if b, err = read(groupFile); err != nil {
		return nil, err
	}
	d.groups = parseIDFile(b, 2)
	if b, err = read(statOverrideFile); err != nil {
		return nil, err
	}
	if d.overrides, err = parseStatOverride(b, d.users, d.groups); err != nil {
		return nil, fmt.Errorf("%s: %w", "/"+statOverrideFile, err)
	}
	if b, err = read(diversionsFile); err != nil {
		return nil, err
	}
	if d.diversions, err = parseDiversions(b); err != nil {
		return nil, fmt.Errorf("%s: %w", "/"+diversionsFile, err)
	}
	d.divertedTo = make(map[string]string, len(d.diversions))
	for from, dv := range d.diversions {
		d.divertedTo[dv.to] = from
	}
	return d, nil
}

// parseIDFile reads passwd(5) or group(5) lines, "name:x:ID:...", into
// name -> ID (field idField, counted from 0). The first line of a name
// wins, as getpwnam finds it; lines that are not of that form (comments,
// NIS "+" entries) are skipped, as the C library skips them.
func parseIDFile(b []byte, idField int) map[string]int {
	out := map[string]int{}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) <= idField || f[0] == "" || strings.ContainsAny(f[0][:1], "+-#") {
			continue
		}
		id, err := strconv.ParseUint(f[idField], 10, 31)
		if err != nil {
			continue
		}
		if _, dup := out[f[0]]; !dup {
			out[f[0]] = int(id)
		}
	}
	return out
}

// parseStatOverride reads dpkg's statoverride file: one "USER GROUP MODE
// PATH" line per override, USER and GROUP a name of the root or "#ID",
// MODE octal. An unknown name or a malformed line is an error, as it is
// for dpkg.
func parseStatOverride(b []byte, users, groups map[string]int) (map[string]statOverride, error) {
	out := map[string]statOverride{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[3] == "" || !strings.HasPrefix(f[3], "/") {
			return nil, fmt.Errorf("line %d: not \"USER GROUP MODE /PATH\": %q", n, line)
		}
		uid, err := lookupID(f[0], users, "user")
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		gid, err := lookupID(f[1], groups, "group")
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		m, err := strconv.ParseUint(f[2], 8, 32)
		if err != nil || m > 0o7777 {
			return nil, fmt.Errorf("line %d: mode %q is not an octal mode", n, f[2])
		}
		out[path.Clean(f[3])] = statOverride{uid: uid, gid: gid, mode: modeFromWord(uint32(m))}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func lookupID(s string, names map[string]int, what string) (int, error) {
	if rest, ok := strings.CutPrefix(s, "#"); ok {
		id, err := strconv.ParseUint(rest, 10, 31)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not #ID", what, s)
		}
		return int(id), nil
	}
	id, ok := names[s]
	if !ok {
		return 0, fmt.Errorf("unknown %s %q", what, s)
	}
	return id, nil
}

// modeFromWord converts a Unix permission word (07777) to an fs.FileMode.
func modeFromWord(w uint32) fs.FileMode {
	m := fs.FileMode(w & 0o777)
	if w&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if w&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if w&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// parseDiversions reads dpkg's diversions file: three lines per
// diversion, the diverted path, where it goes, and the diverting package
// (":" for a local diversion).
func parseDiversions(b []byte) (map[string]diversion, error) {
	out := map[string]diversion{}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return out, nil
	}
	lines := strings.Split(s, "\n")
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("%d lines, not a multiple of 3 (path, divert-to, package)", len(lines))
	}
	for i := 0; i < len(lines); i += 3 {
		from, to, pkg := lines[i], lines[i+1], lines[i+2]
		if !strings.HasPrefix(from, "/") || !strings.HasPrefix(to, "/") || pkg == "" {
			return nil, fmt.Errorf("line %d: diversion %q -> %q by %q is malformed", i+1, from, to, pkg)
		}
		if pkg == ":" {
			pkg = ""
		}
		out[path.Clean(from)] = diversion{to: path.Clean(to), pkg: pkg}
	}
	return out, nil
}

// owner returns the uid and gid an entry gets: its user and group names
// looked up in the root's passwd and group files, its numeric ids when a
// name is empty or unknown there (as dpkg does).
func (d *dpkgFiles) owner(e *archive.Entry) (uid, gid int) {
	uid, gid = e.Uid, e.Gid
	if d == nil {
		return uid, gid
	}
	if id, ok := d.users[e.Uname]; ok && e.Uname != "" {
		uid = id
	}
	if id, ok := d.groups[e.Gname]; ok && e.Gname != "" {
		gid = id
	}
	return uid, gid
}

// meta returns the owner and mode of the package file p ("/usr/bin/x")
// as unpacked: a statoverride's when one is registered, the entry's
// otherwise.
func (d *dpkgFiles) meta(p string, e *archive.Entry) (uid, gid int, mode fs.FileMode) {
	uid, gid = d.owner(e)
	mode = e.Mode
	if d != nil {
		if o, ok := d.overrides[p]; ok {
			return o.uid, o.gid, o.mode
		}
	}
	return uid, gid, mode
}

// useName returns the path package pkg's file p ("/usr/bin/x") takes in
// the root: its divert-to name when p is diverted and pkg is not the
// diverting package, p itself otherwise.
func (d *dpkgFiles) useName(pkg, p string) string {
	if d == nil {
		return p
	}
	if dv, ok := d.diversions[p]; ok && dv.pkg != pkg {
		return dv.to
	}
	return p
}

// divertedFrom returns the path whose diversion sends it to p, when p is
// a divert-to name: no package may ship it (dpkg refuses "the diverted
// version of" a path).
func (d *dpkgFiles) divertedFrom(p string) (string, bool) {
	if d == nil {
		return "", false
	}
	from, ok := d.divertedTo[p]
	return from, ok
}

// diverter returns the package that diverts p and whether p is diverted.
func (d *dpkgFiles) diverter(p string) (string, bool) {
	if d == nil {
		return "", false
	}
	dv, ok := d.diversions[p]
	return dv.pkg, ok
}
