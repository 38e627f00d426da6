package transaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"strings"

	"github.com/greypm/grey/pkgdb"
)

// Diversions a preinst adds.
//
// dpkg reads the diversions of a package's files when it unpacks them,
// after the package's preinst ran, so a preinst may divert a path (of
// another package, installed or in the same run) that the package then
// ships itself: dpkg-divert --add in preinst install, as config-package-dev
// and many "wrapper" packages do. grey stages and checks conflicts before
// any script runs; here it catches up once the preinsts ran: staged files
// whose name a new diversion changes are moved to it, and the conflict
// check is made again. A conflict that only such a preinst could remove
// waits for it; one that remains then fails its package as dpkg's unpack
// would (postrm abort-install), and the others go on.

// mayDivert says a preinst of the transaction calls dpkg-divert: only then
// may the diversions change before the unpack, and a conflict wait for
// the scripts.
func (t *txn) mayDivert() bool {
	for _, w := range t.works {
		if f := w.ctl.File("preinst"); f != nil && bytes.Contains(f.Data, []byte("dpkg-divert")) {
			return true
		}
	}
	return false
}

// afterPreinsts reads the diversions again after the preinsts ran, moves
// staged files whose name changed, and checks conflicts again (always
// when an earlier check was put off, pending). A package whose files
// still conflict is unwound and leaves the transaction.
func (t *txn) afterPreinsts(ctx context.Context, pending error) error {
	files, err := loadDpkgFiles(t.st.rfs.root)
	if err != nil {
		return err
	}
	if maps.Equal(files.diversions, t.st.files.diversions) {
		if pending == nil {
			return nil
		}
	} else {
		t.st.files = files
		if err := t.retarget(); err != nil {
			return err
		}
	}
	t.takeover = map[string][]string{}
	err = t.checkConflicts()
	for err != nil {
		var ce *ConflictError
		if !errors.As(err, &ce) {
			return err
		}
		w := t.workNamed(ce.Package)
		if w == nil || w.failed {
			return err
		}
		w.failed = true
		t.fail(t.abortInstall(ctx, w), err)
		err = t.dropFailed() // checks the conflicts of the others again
	}
	return nil
}

func (t *txn) workNamed(name string) *work {
	for _, w := range t.works {
		if w.name() == name {
			return w
		}
	}
	return nil
}

// retarget gives every staged file the name the diversions now give it:
// the target, the staged copy when the target is in another directory,
// and for a conffile the decision to keep a local copy, made again at
// the new name.
func (t *txn) retarget() error {
	s := t.st
	for _, w := range t.works {
		if w.failed {
			continue
		}
		for _, e := range w.ents {
			if e.tmp == "" || e.file.Type == pkgdb.TypeDir {
				continue
			}
			use := strings.TrimPrefix(s.files.useName(w.name(), e.file.Path), "/")
			d, err := s.mkdirs(path.Dir(use), 0o755)
			if err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			target := filepath.Join(d.host, path.Base(use))
			if target == e.target {
				continue
			}
			if err := s.checkStateHost(use, target, false); err != nil {
				return fmt.Errorf("%s: %w", w.item.Path, err)
			}
			if !d.fresh && s.rfs.isDir(target) {
				return fmt.Errorf("%s: cannot replace the directory /%s with a file: %w", w.item.Path, use, ErrConflict)
			}
			if filepath.Dir(target) != filepath.Dir(e.tmp) {
				tmp := filepath.Join(filepath.Dir(target), randomName())
				s.noteTmp(tmp) // logged before it exists, as staging does
				if err := s.rfs.rename(e.tmp, tmp); err != nil {
					return fmt.Errorf("%s: move the staged %s to its diverted name: %w", w.item.Path, e.file.Path, err)
				}
				e.tmp = tmp
			}
			e.target = target
			if w.isConffile(e.file.Path) {
				e.keepLocal = false
				notes := w.notes[:0]
				for _, n := range w.notes {
					if n.Path != e.file.Path {
						notes = append(notes, n)
					}
				}
				w.notes = notes
				if err := s.decideConffile(w, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// isConffile says path is one of w's conffiles.
func (w *work) isConffile(p string) bool {
	for _, c := range w.confs {
		if c.Path == p {
			return true
		}
	}
	return false
}
