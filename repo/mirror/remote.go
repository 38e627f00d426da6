package mirror

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/greypm/grey/repo/storage"
)

// openStorage sets m.Storage from the configuration.
func (m *Mirror) openStorage() error {
	if m.Config.Target == "" {
		m.Storage = Dir{Root: m.Dir}
		return nil
	}
	remote, err := storage.OpenURL(context.Background(), m.Config.Target)
	if err != nil {
		return fmt.Errorf("mirror %s: %w", m.Config.Name, err)
	}
	m.Storage = &remoteTree{local: Dir{Root: m.Dir}, remote: remote}
	return nil
}

// remoteTree is a mirror's storage when it is published to an object
// store: every object goes to the store, and the current metadata
// (dists/) also to the mirror's directory, where git records it and the
// next sync reads it.
type remoteTree struct {
	local  Dir
	remote Storage
}

var (
	_ Storage           = (*remoteTree)(nil)
	_ storage.FileMover = (*remoteTree)(nil)
	_ storage.Copier    = (*remoteTree)(nil)
	_ storage.Inventory = (*remoteTree)(nil)
)

func isMeta(name string) bool { return strings.HasPrefix(name, "dists/") }

func (t *remoteTree) String() string { return t.remote.String() }

// MoveFile uploads src, then moves it into the local copy of dists/.
func (t *remoteTree) MoveFile(ctx context.Context, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	err = t.remote.Put(ctx, name, f, storage.Sum{})
	f.Close()
	if err != nil {
		return err
	}
	if isMeta(name) {
		return t.local.MoveFile(ctx, name, src)
	}
	return os.Remove(src)
}

// Put spools r to a local file and moves that in.
func (t *remoteTree) Put(ctx context.Context, name string, r io.Reader, sum storage.Sum) error {
	tmp, err := os.CreateTemp(t.local.Root, ".grey-put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return t.MoveFile(ctx, name, tmp.Name())
}

func (t *remoteTree) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return t.remote.Open(ctx, name)
}

// Exists is true for metadata only when both copies hold it.
func (t *remoteTree) Exists(ctx context.Context, name string, sum storage.Sum) (bool, error) {
	if isMeta(name) {
		if ok, err := t.local.Exists(ctx, name, sum); err != nil || !ok {
			return false, err
		}
	}
	return t.remote.Exists(ctx, name, sum)
}

func (t *remoteTree) List(ctx context.Context, prefix string) ([]string, error) {
	return t.remote.List(ctx, prefix)
}

// Inventory lists the store's objects under prefix, for the pool (whose
// objects are only in the store); nil when the store cannot list them
// so.
func (t *remoteTree) Inventory(ctx context.Context, prefix string) (map[string]storage.ObjectInfo, error) {
	if inv, ok := t.remote.(storage.Inventory); ok {
		return inv.Inventory(ctx, prefix)
	}
	return nil, nil
}

func (t *remoteTree) Delete(ctx context.Context, name string) error {
	if err := t.remote.Delete(ctx, name); err != nil {
		return err
	}
	if isMeta(name) {
		return t.local.Delete(ctx, name)
	}
	return nil
}

func (t *remoteTree) Sync(ctx context.Context) error {
	if err := t.remote.Sync(ctx); err != nil {
		return err
	}
	return t.local.Sync(ctx)
}

func (t *remoteTree) Lock(ctx context.Context) (func() error, error) {
	return t.remote.Lock(ctx)
}

func (t *remoteTree) Copy(ctx context.Context, dst, src string, sum storage.Sum) error {
	return storage.CopyObject(ctx, t.remote, dst, src, sum)
}
