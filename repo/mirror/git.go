package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo/storage"
)

// The mirror's history is an ordinary git repository in DIR/.git whose
// work tree is DIR and which tracks dists/ only (.git/info/exclude ignores
// the rest), so `git log` and `git diff` in DIR work as usual. Commits are
// built directly from the files (blobs, trees, commit, index), which costs
// one hash per changed file instead of a status walk of the whole pool.

// gitAuthor signs the mirror's commits.
const gitAuthor = "grey mirror"

func initGit(dir string) error {
	_, err := git.PlainInit(dir, false)
	if err != nil && !errors.Is(err, git.ErrRepositoryAlreadyExists) {
		return err
	}
	excl := filepath.Join(dir, ".git", "info", "exclude")
	if err := os.MkdirAll(filepath.Dir(excl), 0o755); err != nil {
		return err
	}
	return os.WriteFile(excl, []byte("# grey mirror: only dists/ is history\n/*\n!/dists/\n"), 0o644)
}

// commitDists records DIR/dists as a new commit on the current branch and
// returns its hash; when dists/ is what HEAD already holds, it returns
// HEAD's hash and writes nothing.
func commitDists(dir, msg string, when time.Time) (string, error) {
	r, err := git.PlainOpen(dir)
	if err != nil {
		return "", err
	}
	old := map[string]*index.Entry{}
	if idx, err := r.Storer.Index(); err == nil {
		for _, e := range idx.Entries {
			old[e.Name] = e
		}
	}
	var entries []*index.Entry
	root := filepath.Join(dir, "dists")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, storage.TmpSuffix) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := &index.Entry{Name: name, Mode: filemode.Regular, Size: uint32(fi.Size()), ModifiedAt: fi.ModTime(), CreatedAt: fi.ModTime()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.Dev, e.Inode, e.UID, e.GID = uint32(st.Dev), uint32(st.Ino), st.Uid, st.Gid
			e.CreatedAt = time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
		}
		if o, ok := old[name]; ok && o.Size == e.Size && o.ModifiedAt.Equal(e.ModifiedAt) && o.Inode == e.Inode {
			e.Hash = o.Hash
		} else if e.Hash, err = writeBlob(r, p); err != nil {
			return err
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	tree, err := writeTrees(r, entries)
	if err != nil {
		return "", err
	}
	var parents []plumbing.Hash
	if head, err := r.Head(); err == nil {
		pc, err := r.CommitObject(head.Hash())
		if err != nil {
			return "", err
		}
		if pc.TreeHash == tree {
			return head.Hash().String(), setIndex(r, entries)
		}
		parents = append(parents, head.Hash())
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", err
	}
	sig := object.Signature{Name: gitAuthor, Email: "grey-mirror@localhost", When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	obj := r.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return "", err
	}
	h, err := r.Storer.SetEncodedObject(obj)
	if err != nil {
		return "", err
	}
	// The index first: if the ref update is lost, the next sync commits
	// again from the files.
	if err := setIndex(r, entries); err != nil {
		return "", err
	}
	branch := plumbing.Master
	if ref, err := r.Storer.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.SymbolicReference {
		branch = ref.Target()
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(branch, h)); err != nil {
		return "", err
	}
	return h.String(), nil
}

func setIndex(r *git.Repository, entries []*index.Entry) error {
	return r.Storer.SetIndex(&index.Index{Version: 2, Entries: entries})
}

func writeBlob(r *git.Repository, p string) (plumbing.Hash, error) {
	f, err := os.Open(p)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	obj := r.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(fi.Size())
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return plumbing.ZeroHash, fmt.Errorf("read %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	if r.Storer.HasEncodedObject(obj.Hash()) == nil {
		return obj.Hash(), nil
	}
	return r.Storer.SetEncodedObject(obj)
}

// writeTrees writes the trees holding entries (sorted by name) and returns
// the root tree's hash.
func writeTrees(r *git.Repository, entries []*index.Entry) (plumbing.Hash, error) {
	type dirNode struct {
		files map[string]plumbing.Hash
		dirs  map[string]*dirNode
	}
	newNode := func() *dirNode { return &dirNode{files: map[string]plumbing.Hash{}, dirs: map[string]*dirNode{}} }
	top := newNode()
	for _, e := range entries {
		parts := strings.Split(e.Name, "/")
		n := top
		for _, d := range parts[:len(parts)-1] {
			c, ok := n.dirs[d]
			if !ok {
				c = newNode()
				n.dirs[d] = c
			}
			n = c
		}
		n.files[parts[len(parts)-1]] = e.Hash
	}
	var write func(n *dirNode) (plumbing.Hash, error)
	write = func(n *dirNode) (plumbing.Hash, error) {
		t := &object.Tree{}
		for name, h := range n.files {
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
		}
		for name, c := range n.dirs {
			h, err := write(c)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
		sort.Sort(object.TreeEntrySorter(t.Entries))
		obj := r.Storer.NewEncodedObject()
		if err := t.Encode(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		return r.Storer.SetEncodedObject(obj)
	}
	return write(top)
}

// Snapshot is one tagged state of a mirror.
type Snapshot struct {
	Tag    string    `json:"tag"`
	Commit string    `json:"commit"`
	When   time.Time `json:"when"`
	// Subject is the first line of the commit's message.
	Subject string `json:"subject"`
}

// ErrSnapshotExists reports a tag already in use.
var ErrSnapshotExists = errors.New("snapshot already exists")

// resolve returns the commit a revision (a tag, a hash, HEAD, HEAD~1)
// names.
func resolve(r *git.Repository, rev string) (*object.Commit, error) {
	h, err := r.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	c, err := r.CommitObject(*h)
	if err != nil {
		return nil, fmt.Errorf("revision %q: %w", rev, err)
	}
	return c, nil
}

// Snapshots lists the mirror's tags, oldest first.
func Snapshots(m *Mirror) ([]Snapshot, error) {
	r, err := git.PlainOpen(m.Dir)
	if err != nil {
		return nil, err
	}
	iter, err := r.Tags()
	if err != nil {
		return nil, err
	}
	var out []Snapshot
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		c, err := resolve(r, ref.Name().String())
		if err != nil {
			return err
		}
		subject, _, _ := strings.Cut(c.Message, "\n")
		out = append(out, Snapshot{Tag: ref.Name().Short(), Commit: c.Hash.String(), When: c.Committer.When, Subject: subject})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].When.Equal(out[j].When) {
			return out[i].When.Before(out[j].When)
		}
		return out[i].Tag < out[j].Tag
	})
	return out, err
}

// treeFiles calls fn for every file of commit c under prefix.
func treeFiles(c *object.Commit, prefix string, fn func(f *object.File) error) error {
	t, err := c.Tree()
	if err != nil {
		return err
	}
	return t.Files().ForEach(func(f *object.File) error {
		if !strings.HasPrefix(f.Name, prefix) {
			return nil
		}
		return fn(f)
	})
}

// TakeSnapshot tags the state rev names (HEAD when empty) as tag and
// writes its metadata to snapshots/TAG/dists, with snapshots/TAG/pool
// linked to the mirror's pool, so that URL/snapshots/TAG is an archive
// root that serves that state. The InRelease files are written last.
func TakeSnapshot(ctx context.Context, m *Mirror, tag, rev string) (*Snapshot, error) {
	if !validSegment(tag) {
		return nil, fmt.Errorf("invalid snapshot name %q (letters, digits, '.', '+', '-', '_', '~')", tag)
	}
	if rev == "" {
		rev = "HEAD"
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := git.PlainOpen(m.Dir)
	if err != nil {
		return nil, err
	}
	ref := plumbing.NewTagReferenceName(tag)
	if _, err := r.Reference(ref, false); err == nil {
		return nil, fmt.Errorf("snapshot %s: %w", tag, ErrSnapshotExists)
	}
	c, err := resolve(r, rev)
	if err != nil {
		return nil, err
	}
	if err := materialize(ctx, m, c, "snapshots/"+tag+"/"); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", tag, err)
	}
	// The tag last: a snapshot that is listed is whole.
	if err := r.Storer.SetReference(plumbing.NewHashReference(ref, c.Hash)); err != nil {
		return nil, err
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	return &Snapshot{Tag: tag, Commit: c.Hash.String(), When: c.Committer.When, Subject: subject}, nil
}

// materialize writes commit c's dists/ under prefix through the mirror's
// storage: the pool link, the indexes, then Release files, InRelease last.
func materialize(ctx context.Context, m *Mirror, c *object.Commit, prefix string) error {
	if l, ok := m.Storage.(storage.Linker); ok {
		if err := l.Link(ctx, prefix+"pool", "../../pool"); err != nil {
			return err
		}
	} else if err := copyPool(ctx, m, c, prefix); err != nil {
		return err
	}
	tmp := m.meta("snapshot.tmp")
	defer os.Remove(tmp)
	var last []*object.File
	write := func(f *object.File) error {
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		if err := createFrom(tmp, rd); err != nil {
			return err
		}
		return storage.PutFile(ctx, m.Storage, prefix+f.Name, tmp, storage.Sum{})
	}
	order := func(name string) int {
		switch path.Base(name) {
		case "Release":
			return 1
		case "Release.gpg":
			return 2
		case "InRelease":
			return 3
		}
		return 0
	}
	err := treeFiles(c, "dists/", func(f *object.File) error {
		if strings.Count(f.Name, "/") == 2 && order(f.Name) > 0 {
			last = append(last, f)
			return nil
		}
		return write(f)
	})
	if err != nil {
		return err
	}
	sort.SliceStable(last, func(i, j int) bool { return order(last[i].Name) < order(last[j].Name) })
	if err := m.Storage.Sync(ctx); err != nil {
		return err
	}
	for _, f := range last {
		if err := write(f); err != nil {
			return err
		}
	}
	return m.Storage.Sync(ctx)
}

// copyPool gives a snapshot on a storage without links (an object store)
// its own copy of every pool file its indexes name, at
// prefix+Filename, copied inside the store (S3 CopyObject), so that
// URL/snapshots/TAG serves its pool like a link would.
func copyPool(ctx context.Context, m *Mirror, c *object.Commit, prefix string) error {
	files, err := packagesFiles(c)
	if err != nil {
		return err
	}
	want := map[string]storage.Sum{}
	seen := map[plumbing.Hash]bool{}
	for _, f := range files {
		if seen[f.Hash] {
			continue
		}
		seen[f.Hash] = true
		err := readStanzas(f, func(s *control.Stanza) error {
			size, _ := strconv.ParseInt(s.Get("Size"), 10, 64)
			want[s.Get("Filename")] = storage.Sum{Size: size, SHA256: strings.ToLower(s.Get("SHA256"))}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
	}
	names := slices.Sorted(maps.Keys(want))
	for _, name := range names {
		sum := want[name]
		if ok, err := m.Storage.Exists(ctx, prefix+name, sum); err != nil {
			return err
		} else if ok {
			continue
		}
		if ok, err := m.Storage.Exists(ctx, name, sum); err != nil {
			return err
		} else if !ok {
			// A pool file the upstream lacked (--allow-missing).
			continue
		}
		if err := storage.CopyObject(ctx, m.Storage, prefix+name, name, sum); err != nil {
			return err
		}
	}
	return nil
}
