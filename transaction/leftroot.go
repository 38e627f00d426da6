package transaction

import (
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
)

// recordLeftRoot remembers, for the packages adopted from dpkg that the
// transaction removes or replaces, what each of their files was on disk
// as the journal found it (pkgdb's leftroot bucket): their records have
// no mode, owner or SHA256, and a rollback to before this transaction
// needs them to put the files back. A regular file counts only when its
// content still has the MD5 dpkg recorded; a conffile, whose MD5 is the
// shipped one, counts as it is (the admin's edits included).
func (t *txn) recordLeftRoot(tx *bolt.Tx, paths []pkgdb.PathState) error {
	var recs []*pkgdb.Package
	for _, w := range t.works {
		if w.old != nil && w.old.Adopted {
			recs = append(recs, w.old)
		}
	}
	for _, r := range t.removes {
		if r.rec.Adopted {
			recs = append(recs, r.rec)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	byRel := make(map[string]pkgdb.PathState, len(paths))
	for _, ps := range paths {
		byRel[ps.Rel] = ps
	}
	for _, rec := range recs {
		for _, f := range rec.Files {
			h, err := t.st.resolve(strings.TrimPrefix(t.st.files.useName(rec.Name, f.Path), "/"))
			if err != nil {
				continue
			}
			ps, ok := byRel[relTo(t.root, h)]
			if !ok || !ps.Exists {
				continue
			}
			switch f.Type {
			case pkgdb.TypeRegular:
				if ps.File.Type != pkgdb.TypeRegular || !t.sameMD5(ps, f.MD5) {
					continue
				}
			case pkgdb.TypeDir:
				if ps.File.Type != pkgdb.TypeDir {
					continue
				}
			case pkgdb.TypeSymlink:
				if ps.File.Type != pkgdb.TypeSymlink || ps.File.Link != f.Link {
					continue
				}
			default:
				continue
			}
			if err := pkgdb.PutLeftRoot(tx, f, ps.File); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameMD5 says the content the journal stored for ps has the MD5 dpkg
// recorded (none recorded, a conffile's: any). The journal hashed the
// files it found under their record's name; one reached through a
// symlink (merged /usr) is hashed here, from the store.
func (t *txn) sameMD5(ps pkgdb.PathState, want string) bool {
	if want == "" || t.leftMD5[ps.Rel] == want {
		return true
	}
	_, md, err := storeIn(t.st.rfs).hashes(ps.File.SHA256)
	return err == nil && md == want
}
