package transaction

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// Problem kinds reported by Verify.
const (
	KindMissing  = "missing"
	KindType     = "type"
	KindMode     = "mode"
	KindSize     = "size"
	KindChecksum = "checksum"
	KindLink     = "link target"
	// KindModifiedConffile is an admin's edit of a conffile: expected, and
	// reported for information, not as an error.
	KindModifiedConffile = "modified conffile"
)

// Problem is one difference between the database and the root.
type Problem struct {
	Package string `json:"package"`
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Detail  string `json:"detail,omitempty"`
}

// IsError reports whether p is damage rather than an admin's conffile edit.
func (p Problem) IsError() bool { return p.Kind != KindModifiedConffile }

func (p Problem) String() string {
	s := p.Package + ": " + p.Path + ": " + p.Kind
	if p.Detail != "" {
		s += " (" + p.Detail + ")"
	}
	return s
}

// Verify compares every file of the named installed packages (all when
// names is empty) with what the database recorded: type, permissions,
// size, SHA256, link target.
func Verify(ctx context.Context, db DB, root string, names []string) ([]Problem, error) {
	var pkgs []*pkgdb.Package
	err := db.View(func(tx *bolt.Tx) error {
		if len(names) == 0 {
			all, err := pkgdb.Packages(tx)
			pkgs = all
			return err
		}
		for _, n := range names {
			p, err := GetInstance(tx, n)
			if err != nil {
				return err
			}
			if p == nil {
				return fmt.Errorf("verify %s: %w", n, ErrNotInstalled)
			}
			pkgs = append(pkgs, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rfs, err := openRootFS(root)
	if err != nil {
		return nil, err
	}
	defer rfs.close()
	st := &stager{root: root, rfs: rfs}
	// A diverted file is checked where dpkg-divert sent it.
	if st.files, err = loadDpkgFiles(rfs.root); err != nil {
		return nil, err
	}
	var out []Problem
	for _, p := range pkgs {
		for _, f := range p.Files {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			if pr, bad := verifyFile(st, p, f); bad {
				out = append(out, pr)
			}
		}
	}
	return out, nil
}

func verifyFile(st *stager, p *pkgdb.Package, f pkgdb.File) (Problem, bool) {
	pr := Problem{Package: p.Name, Path: f.Path}
	conf := p.Conffile(f.Path) != nil
	host, err := st.resolve(strings.TrimPrefix(st.files.useName(p.Name, f.Path), "/"))
	if err != nil {
		pr.Kind, pr.Detail = KindMissing, err.Error()
		return pr, true
	}
	// Every read goes through the root's os.Root: by name in a
	// descriptor of its directory, never following a last symlink.
	fi, err := st.rfs.lstatInfo(host)
	if err != nil {
		if conf {
			pr.Kind, pr.Detail = KindModifiedConffile, "deleted"
		} else {
			pr.Kind = KindMissing
		}
		return pr, true
	}
	switch f.Type {
	case pkgdb.TypeDir:
		// A directory may be a symlink to one (merged /usr).
		if !fi.IsDir() {
			if d, err := st.rfs.resolve(strings.TrimPrefix(st.files.useName(p.Name, f.Path), "/"), true); err != nil || !st.rfs.isDir(d) {
				pr.Kind, pr.Detail = KindType, "not a directory"
				return pr, true
			}
		}
		return pr, false
	case pkgdb.TypeSymlink:
		if p.Adopted && f.Link == "" {
			return pr, false // dpkg's database records no symlink targets
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			pr.Kind, pr.Detail = KindType, "not a symlink"
			return pr, true
		}
		if l, _ := st.rfs.readlink(host); l != f.Link {
			pr.Kind, pr.Detail = KindLink, fmt.Sprintf("%s, recorded %s", l, f.Link)
			return pr, true
		}
		return pr, false
	case pkgdb.TypeRegular, pkgdb.TypeHard:
		if p.Adopted {
			return verifyAdopted(st.rfs, pr, host, fi, f, conf)
		}
		if !fi.Mode().IsRegular() {
			pr.Kind, pr.Detail = KindType, "not a regular file"
			if conf {
				pr.Kind = KindModifiedConffile
			}
			return pr, true
		}
		if got := modeWord(fi.Mode()); got != f.Mode && !conf {
			pr.Kind, pr.Detail = KindMode, fmt.Sprintf("%04o, recorded %04o", got, f.Mode)
			return pr, true
		}
		if fi.Size() != f.Size {
			pr.Kind, pr.Detail = KindSize, fmt.Sprintf("%d bytes, recorded %d", fi.Size(), f.Size)
		} else if sum, err := st.rfs.sha256(host); err != nil {
			pr.Kind, pr.Detail = KindChecksum, err.Error()
		} else if sum != f.SHA256 {
			pr.Kind, pr.Detail = KindChecksum, "SHA256 differs"
		} else {
			return pr, false
		}
		if conf {
			pr.Kind = KindModifiedConffile
		}
		return pr, true
	}
	return pr, false
}

// verifyAdopted checks a regular file of a package adopted from dpkg,
// which records only an MD5 (as dpkg --verify checks it): a symlink
// standing for it (a diversion or alternative) or a file without an MD5
// passes.
func verifyAdopted(rfs *rootFS, pr Problem, host string, fi fs.FileInfo, f pkgdb.File, conf bool) (Problem, bool) {
	if conf || f.MD5 == "" || !fi.Mode().IsRegular() {
		return pr, false
	}
	sum, err := rootMD5(rfs, host)
	switch {
	case err != nil:
		pr.Kind, pr.Detail = KindChecksum, err.Error()
	case sum != f.MD5:
		pr.Kind, pr.Detail = KindChecksum, "MD5 differs"
	default:
		return pr, false
	}
	return pr, true
}

// rootMD5 is the MD5 of the regular file host, opened through rfs.
func rootMD5(rfs *rootFS, host string) (string, error) {
	f, err := rfs.open(host)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileMD5Bytes(b []byte) (string, error) {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:]), nil
}
