package transaction

import (
	"fmt"
	"path"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// The marks SetMarks sets.
const (
	MarkAuto   = "auto"
	MarkManual = "manual"
	MarkHold   = "hold"
	MarkUnhold = "unhold"
)

// SetMarks sets mark on the named packages of the open root r (names or
// "name:arch" instance names), in grey's database and where apt and dpkg
// keep it: auto and manual in apt's extended_states (apt-mark showauto),
// hold and unhold as dpkg's selection in the Status field of the status
// file (dpkg --get-selections). Only the named packages' stanzas change.
// It returns the names whose mark changed.
func SetMarks(r *Root, names []string, mark string) ([]string, error) {
	switch mark {
	case MarkAuto, MarkManual, MarkHold, MarkUnhold:
	default:
		return nil, fmt.Errorf("unknown mark %q", mark)
	}
	statusPath := filepath.Join(r.Dir, pkgdb.DpkgAdminDir, "status")
	status, err := readOptionalIn(r.Dir, path.Join(pkgdb.DpkgAdminDir, "status"))
	if err != nil {
		return nil, fmt.Errorf("read dpkg status: %w", err)
	}
	entries, err := dpkgdb.ParseStatus(statusPath, status)
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{}
	for _, e := range entries {
		raw[e.Key()] = e.Raw
	}
	var changed []string
	err = r.DB.Update(func(tx *bolt.Tx) error {
		edit := dpkgdb.Edit{Status: map[string]string{}}
		marks := map[string]*bool{}
		var recs []*pkgdb.Package
		for _, n := range names {
			rec, err := GetInstance(tx, n)
			if err != nil {
				return err
			}
			if rec == nil || !rec.IsInstalled() {
				return fmt.Errorf("%s: %w", n, ErrNotInstalled)
			}
			switch mark {
			case MarkAuto, MarkManual:
				auto := mark == MarkAuto
				if rec.Auto == auto {
					continue
				}
				rec.Auto = auto
				marks[dpkgKey(rec)] = &auto
			case MarkHold, MarkUnhold:
				want := "install"
				if mark == MarkHold {
					want = "hold"
				}
				if rec.Want() == want {
					continue
				}
				rec.Status = rec.WithWant(want)
				k := dpkgKey(rec)
				edit.Status[k] = rec.Status
				if old, ok := raw[k]; ok {
					rec.StanzaHash = pkgdb.StanzaHash(dpkgdb.SetStatus(old, rec.Status))
				}
			}
			recs = append(recs, rec)
			changed = append(changed, n)
		}
		if len(recs) == 0 {
			return nil
		}
		for _, rec := range recs {
			if err := pkgdb.PutPackage(tx, rec); err != nil {
				return err
			}
		}
		fp, err := WriteDpkgStatus(r.Dir, edit, true)
		if err != nil {
			return err
		}
		if fp.ExtendedStates, err = WriteAutoMarks(r.Dir, marks, true); err != nil {
			return err
		}
		return pkgdb.PutHostFingerprint(tx, fp)
	})
	return changed, err
}
