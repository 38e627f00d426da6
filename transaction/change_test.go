package transaction

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/resolver"
)

// TestLibraryEntryPoint installs packages the way a Go program would,
// through Prepare, Pending.Download and Apply alone (no cmd code): two
// packages from a served index, one of them pulled in as a dependency, and
// a local .deb; then removes one with purge.
func TestLibraryEntryPoint(t *testing.T) {
	ctx := context.Background()
	pool := t.TempDir()
	var index []*deb.Package
	serve := func(p tpkg) {
		path := p.build(t, pool)
		d, err := readDeb(path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		d.Filename, d.SHA256, d.Size, d.Origin = "pool/"+filepath.Base(path), hex.EncodeToString(sum[:]), int64(len(body)), "test"
		index = append(index, d)
	}
	serve(tpkg{name: "app", version: "1.0", extra: "Depends: libapp (>= 2)\n",
		files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/app", body: "app\n", mode: 0o755}}})
	serve(tpkg{name: "libapp", version: "2.1",
		files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/lib/", typ: 'd'}, {name: "./usr/lib/libapp.so", body: "lib\n", mode: 0o644}}})
	serve(tpkg{name: "unused", version: "1"})
	local := tpkg{name: "tool", version: "0.1", extra: "Depends: libapp\n",
		conffiles: []string{"/etc/tool.conf"},
		files:     []tentry{{name: "./etc/", typ: 'd'}, {name: "./etc/tool.conf", body: "x=1\n", mode: 0o644}}}.build(t, t.TempDir())
	srv := httptest.NewServer(http.StripPrefix("/debian/", http.FileServer(http.Dir(filepath.Dir(pool)))))
	defer srv.Close()
	// The pool directory is served as /debian/pool/.
	if err := os.Rename(pool, filepath.Join(filepath.Dir(pool), "pool")); err != nil {
		t.Fatal(err)
	}
	urls := func(p *deb.Package) (string, error) { return JoinURL(srv.URL+"/debian", p.Filename) }

	dir := t.TempDir()
	root := openRoot(t, dir)
	req := ChangeRequest{Request: resolver.Request{Install: []resolver.Job{{Name: "app"}}}, Local: []string{local}}
	pending, err := Prepare(ctx, root.DB, resolver.NewMemIndex(index), req)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	auto := map[string]bool{}
	for _, w := range pending.Install {
		names = append(names, w.Package.Name)
		auto[w.Package.Name] = w.Auto
	}
	if len(names) != 3 || !auto["libapp"] || auto["app"] || auto["tool"] {
		t.Fatalf("pending installs %v (auto %v), want app, libapp (auto) and tool", names, auto)
	}
	plan, err := pending.Download(ctx, DownloadOptions{Fetcher: fetch.New(), Dir: dir, URL: urls})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, root.DB, plan, Options{Root: dir, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"usr/bin/app", "usr/lib/libapp.so", "etc/tool.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(CachePath(dir, index[0])); err != nil {
		t.Errorf("app's .deb is not in the archive cache: %v", err)
	}
	got := map[string]bool{}
	_ = root.DB.View(func(tx *bolt.Tx) error {
		ps, err := pkgdb.Packages(tx)
		for _, p := range ps {
			got[p.Name] = p.Auto
		}
		return err
	})
	if len(got) != 3 || !got["libapp"] || got["app"] || got["tool"] {
		t.Fatalf("installed %v, want app, tool (manual) and libapp (auto)", got)
	}

	// Removing tool with purge takes its conffile too.
	pending, err = Prepare(ctx, root.DB, resolver.NewMemIndex(index), ChangeRequest{
		Request: resolver.Request{Remove: []resolver.Job{{Name: "tool"}}}, Purge: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Install) != 0 || len(pending.Remove) != 1 || !pending.Remove[0].Purge {
		t.Fatalf("pending %+v, want one purge", pending)
	}
	plan, err = pending.Download(ctx, DownloadOptions{Fetcher: fetch.New(), Dir: dir, URL: urls})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, root.DB, plan, Options{Root: dir, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/tool.conf")); !os.IsNotExist(err) {
		t.Errorf("etc/tool.conf after purge: %v", err)
	}
}
