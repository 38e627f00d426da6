package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// TestUpdateThroughProxy runs grey update and install against a source
// whose host name never resolves (repo.example), reachable only through a
// proxy: named in ROOT/etc/grey/grey.conf, then in http_proxy. A bad
// configuration is bad input (exit status 2) naming the file and line.
func TestUpdateThroughProxy(t *testing.T) {
	dir := t.TempDir()
	now := testfixture.Clock
	key := newTestKey(t, dir, "proxy test", now)
	pkg := buildDeb(t, dir, "viaproxy", "1.0", map[string]string{"usr/share/viaproxy/f": "ok\n"})
	repoDir := filepath.Join(dir, "repo")
	key.publish(now, repoDir, pkg)
	// The proxy serves the repository for absolute URLs of repo.example.
	var asked atomic.Int32
	files := http.StripPrefix("/debian", http.FileServer(http.Dir(repoDir)))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "repo.example" {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		asked.Add(1)
		files.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	root := filepath.Join(dir, "root")
	must(t, os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755))
	conf := filepath.Join(root, "etc/grey/grey.conf")
	g := func(args ...string) (int, string) {
		t.Helper()
		src := []string{"--root", root, "--source", fmt.Sprintf("deb [signed-by=%s.gpg] http://repo.example/debian stable main", key.prefix)}
		code, out, errOut := greyAt(t, now.Add(time.Hour), append(src, args...)...)
		return code, out + errOut
	}

	must(t, os.WriteFile(conf, []byte(fmt.Sprintf("Acquire::http::Proxy %q;\nAcquire::http { Timeout \"20\"; Max-Time \"600\"; };\n", proxy.URL)), 0o644))
	if code, out := g("update"); code != 0 || !strings.Contains(out, "Get http://repo.example/debian stable") {
		t.Fatalf("update through the configured proxy: exit %d\n%s", code, out)
	}
	if code, out := g("-y", "install", "--no-scripts", "viaproxy"); code != 0 {
		t.Fatalf("install through the configured proxy: exit %d\n%s", code, out)
	}
	n := asked.Load()
	if n < 3 { // InRelease, Packages, the .deb
		t.Fatalf("the proxy was asked %d times", n)
	}

	// From the environment when the configuration names no proxy.
	must(t, os.Remove(conf))
	t.Setenv("http_proxy", proxy.URL)
	if code, out := g("update"); code != 0 {
		t.Fatalf("update through http_proxy: exit %d\n%s", code, out)
	}
	if asked.Load() == n {
		t.Fatal("http_proxy was not used")
	}

	for _, c := range []struct{ conf, want string }{
		{"Acquire::http::Proxy \"ftp://proxy\";\n", `http proxy "ftp://proxy": unsupported proxy scheme "ftp"`},
		{"Acquire::http::Timeout \"20\"\n", conf + ":2: ';' after the value of Acquire::http::Timeout expected"},
		{"Acquire::http::Max-Time \"1h\";\n", conf + `:1: Acquire::http::Max-Time "1h": not a whole number of seconds`},
	} {
		must(t, os.WriteFile(conf, []byte(c.conf), 0o644))
		code, out := g("update")
		if code != 2 || !strings.Contains(out, c.want) {
			t.Errorf("%q: exit %d, want 2 and %q:\n%s", c.conf, code, c.want, out)
		}
	}
}
