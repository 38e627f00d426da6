package storage

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// countingTransport counts requests by method.
type countingTransport struct {
	next          http.RoundTripper
	put, get, hed atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPut:
		c.put.Add(1)
	case http.MethodGet:
		c.get.Add(1)
	case http.MethodHead:
		c.hed.Add(1)
	}
	return c.next.RoundTrip(r)
}

// weed is the package's one SeaweedFS, started by the first test that
// needs it and stopped by TestMain.
var weed testfixture.SharedS3

func TestMain(m *testing.M) {
	code := m.Run()
	weed.Stop()
	os.Exit(code)
}

// newBucket sets the AWS environment to the shared SeaweedFS's
// credentials and returns a storage under the test's own prefix of the
// bucket "grey" (SeaweedFS gives each bucket volumes of its own: one
// bucket keeps the cluster small).
func newBucket(t *testing.T) (*testfixture.S3Server, *S3, *countingTransport) {
	t.Helper()
	srv := weed.Get(t)
	srv.Env(t)
	ct := &countingTransport{next: http.DefaultTransport}
	cfg, err := ParseS3URL("s3://grey/" + testfixture.S3Prefix(t) + "?endpoint=" + srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = &http.Client{Transport: ct}
	st, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	CreateBucket(t, st)
	return srv, st, ct
}

// CreateBucket makes st's bucket, retrying while the new cluster has no
// volume server yet.
func CreateBucket(t testing.TB, st *S3) {
	t.Helper()
	testfixture.Retry(t, "create bucket "+st.cfg.Bucket, time.Minute, func() error {
		return st.CreateBucket(context.Background())
	})
}

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want S3Config
		err  string
	}{
		{in: "s3://b", want: S3Config{Bucket: "b"}},
		{in: "s3://b/debian/", want: S3Config{Bucket: "b", Prefix: "debian"}},
		{in: "s3://b/a/b?endpoint=http://127.0.0.1:8333&region=eu-west-1", want: S3Config{Bucket: "b", Prefix: "a/b", Endpoint: "http://127.0.0.1:8333", Region: "eu-west-1", PathStyle: true}},
		{in: "s3://b?endpoint=https://s3.example&path-style=false&profile=p", want: S3Config{Bucket: "b", Endpoint: "https://s3.example", Profile: "p"}},
		{in: "s3://b?path-style=yes", err: "path-style"},
		{in: "s3://b?endpoint=ftp://x", err: "not an http(s) URL"},
		{in: "s3://b?bogus=1", err: "unknown option"},
		{in: "s3://key:secret@b/x", err: "credentials do not go in the URL"},
		{in: "s3:///x", err: "want s3://BUCKET/PREFIX"},
		{in: "s3://b/a/../../x", err: "prefix"},
	} {
		got, err := ParseS3URL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseS3URL(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseS3URL(%q): the error shows the secret: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseS3URL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestS3WebURL(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	for _, tc := range []struct{ in, want string }{
		{"s3://b/debian?endpoint=http://127.0.0.1:8333", "http://127.0.0.1:8333/b/debian"},
		{"s3://b?endpoint=http://127.0.0.1:8333/", "http://127.0.0.1:8333/b"},
		{"s3://b/a/b?endpoint=https://s3.example&path-style=false", "https://b.s3.example/a/b"},
		{"s3://b/debian", "https://b.s3.eu-west-1.amazonaws.com/debian"},
		{"s3://b/debian?region=us-east-2", "https://b.s3.us-east-2.amazonaws.com/debian"},
	} {
		cfg, err := ParseS3URL(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		st, err := NewS3(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.WebURL(); got != tc.want {
			t.Errorf("WebURL of %s = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzParseS3URL(f *testing.F) {
	for _, s := range []string{"s3://b/p?endpoint=http://h:1", "s3://b", "s3://%zz", "s3://b/../x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseS3URL(s)
		if err != nil {
			return
		}
		if c.Bucket == "" {
			t.Fatalf("%q: empty bucket accepted", s)
		}
		if c.Prefix != "" && checkName(c.Prefix) != nil {
			t.Fatalf("%q: prefix %q escapes", s, c.Prefix)
		}
	})
}

// conformance runs the contract every Storage keeps.
func conformance(t *testing.T, st Storage) {
	ctx := context.Background()
	data := []byte("Package: hello\n")
	sum := SumBytes(data)
	if ok, err := st.Exists(ctx, "dists/s/Packages", sum); err != nil || ok {
		t.Fatalf("Exists on a missing name = %v, %v", ok, err)
	}
	if _, err := st.Open(ctx, "dists/s/Packages"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing name = %v, want fs.ErrNotExist", err)
	}
	if err := st.Put(ctx, "dists/s/Packages", strings.NewReader(string(data)), Sum{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Exists(ctx, "dists/s/Packages", sum); err != nil || !ok {
		t.Fatalf("Exists after Put = %v, %v", ok, err)
	}
	other := SumBytes([]byte("Package: hellO\n"))
	if ok, _ := st.Exists(ctx, "dists/s/Packages", other); ok {
		t.Fatal("Exists true for another content of the same size")
	}
	r, err := st.Open(ctx, "dists/s/Packages")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != string(data) {
		t.Fatalf("Open read %q", got)
	}
	src := filepath.Join(t.TempDir(), "deb")
	if err := os.WriteFile(src, []byte("debdata"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := PutFile(ctx, st, "pool/main/h/hello/hello_1_amd64.deb", src, SumBytes([]byte("debdata"))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PutFile left its source: %v", err)
	}
	if err := CopyObject(ctx, st, "snapshots/a/pool/main/h/hello/hello_1_amd64.deb", "pool/main/h/hello/hello_1_amd64.deb", SumBytes([]byte("debdata"))); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Exists(ctx, "snapshots/a/pool/main/h/hello/hello_1_amd64.deb", SumBytes([]byte("debdata"))); err != nil || !ok {
		t.Fatalf("Exists after Copy = %v, %v", ok, err)
	}
	list, err := st.List(ctx, "pool/")
	if err != nil || !slices.Equal(list, []string{"pool/main/h/hello/hello_1_amd64.deb"}) {
		t.Fatalf("List(pool/) = %v, %v", list, err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../b", "", "."} {
		if err := st.Put(ctx, bad, strings.NewReader("x"), Sum{}); err == nil {
			t.Errorf("Put(%q) succeeded", bad)
		}
	}
	unlock, err := st.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Lock(ctx); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock = %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = st.Lock(ctx)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
	for _, name := range []string{"pool/main/h/hello/hello_1_amd64.deb", "pool/none", "dists/s/Packages", "snapshots/a/pool/main/h/hello/hello_1_amd64.deb"} {
		if err := st.Delete(ctx, name); err != nil {
			t.Fatalf("Delete(%s): %v", name, err)
		}
	}
	if list, err := st.List(ctx, ""); err != nil || slices.ContainsFunc(list, func(s string) bool { return s != LockName }) {
		t.Fatalf("after deleting everything: %v, %v", list, err)
	}
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDirConformance(t *testing.T) {
	conformance(t, Dir{Root: t.TempDir()})
}

func TestS3Conformance(t *testing.T) {
	_, st, ct := newBucket(t)
	conformance(t, st)
	// Exists costs one HEAD and no download: the SHA256 is metadata.
	ctx := context.Background()
	data := strings.Repeat("x", 1<<20)
	if err := st.Put(ctx, "pool/big", strings.NewReader(data), Sum{}); err != nil {
		t.Fatal(err)
	}
	// The listing gives each object's size and MD5 (its ETag).
	inv, err := st.Inventory(ctx, "pool/")
	if want := (ObjectInfo{Size: 1 << 20, MD5: fmt.Sprintf("%x", md5.Sum([]byte(data)))}); err != nil || len(inv) != 1 || inv["pool/big"] != want {
		t.Errorf("Inventory(pool/) = %v, %v; want pool/big %+v", inv, err, want)
	}
	gets, heads := ct.get.Load(), ct.hed.Load()
	if ok, err := st.Exists(ctx, "pool/big", SumBytes([]byte(data))); err != nil || !ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if ct.get.Load() != gets || ct.hed.Load() != heads+1 {
		t.Errorf("Exists made %d GET and %d HEAD requests, want 0 and 1", ct.get.Load()-gets, ct.hed.Load()-heads)
	}
}

// TestS3LockTakeover: a lock left by a process of this host that is gone
// (a killed publish) is taken over; a live holder's is refused, naming it.
func TestS3LockTakeover(t *testing.T) {
	_, st, _ := newBucket(t)
	ctx := context.Background()
	dead := *st
	dead.pid = 1 << 22 // above pid_max's default: no such process
	if _, err := dead.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(ctx)
	if err != nil {
		t.Fatalf("Lock over a dead holder's lock: %v", err)
	}
	defer unlock()
	other := *st
	other.host = "elsewhere"
	if _, err := other.Lock(ctx); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), st.host) {
		t.Errorf("Lock held by a live process = %v, want ErrLocked naming %s", err, st.host)
	}
}
