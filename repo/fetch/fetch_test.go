package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

func payload(n int) ([]byte, Expect) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(b)
	return b, Expect{Size: int64(n), SHA256: hex.EncodeToString(sum[:])}
}

// recorder notes every back-off wait instead of sleeping.
type recorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
	return nil
}

func testClient(rec *recorder, opts ...Option) *Client {
	return New(append([]Option{WithSleep(rec.sleep), WithRetries(4, 100*time.Millisecond)}, opts...)...)
}

func serveContent(w http.ResponseWriter, r *http.Request, data []byte) {
	http.ServeContent(w, r, "f", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

// cutAfter writes the response headers for the whole of data, then only its
// first n bytes, then drops the connection.
func cutAfter(t *testing.T, w http.ResponseWriter, data []byte, n int) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("response writer cannot hijack")
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nLast-Modified: Sun, 01 Nov 2026 00:00:00 GMT\r\n\r\n", len(data))
	buf.Write(data[:n])
	buf.Flush()
}

func TestHTTPResumeAfterCut(t *testing.T) {
	data, exp := payload(300_000)
	for _, tc := range []struct {
		name        string
		ignoreRange bool
	}{
		{"range honoured", false},
		{"range ignored", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var ranges []string
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range"))
				mu.Unlock()
				if calls.Add(1) == 1 {
					cutAfter(t, w, data, 123_456)
					return
				}
				if tc.ignoreRange {
					w.Write(data)
					return
				}
				serveContent(w, r, data)
			}))
			defer srv.Close()
			rec := &recorder{}
			dest := filepath.Join(t.TempDir(), "Packages.xz")
			if err := testClient(rec).Fetch(context.Background(), srv.URL+"/Packages.xz", dest, exp); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes, not the file", len(got))
			}
			if ranges[0] != "" || ranges[1] != "bytes=123456-" {
				t.Fatalf("Range headers = %q, want none then bytes=123456-", ranges)
			}
			if _, err := os.Stat(dest + ".partial"); !os.IsNotExist(err) {
				t.Fatalf("partial file left behind: %v", err)
			}
			if len(rec.delays) != 1 {
				t.Fatalf("back-off waits = %v, want one", rec.delays)
			}
		})
	}
}

func TestHTTPRetryBackoff(t *testing.T) {
	data, exp := payload(1000)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		serveContent(w, r, data)
	}))
	defer srv.Close()
	rec := &recorder{}
	dest := filepath.Join(t.TempDir(), "f")
	if err := testClient(rec).Fetch(context.Background(), srv.URL+"/f", dest, exp); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if fmt.Sprint(rec.delays) != fmt.Sprint(want) {
		t.Fatalf("back-off = %v, want %v", rec.delays, want)
	}

	// One more failure than attempts allow: the error says so.
	calls.Store(-10)
	err := testClient(rec).Fetch(context.Background(), srv.URL+"/f", dest+"2", exp)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 503 || !strings.Contains(err.Error(), "4 attempts") {
		t.Fatalf("err = %v, want a 503 after 4 attempts", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	data, exp := payload(5000)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/forbidden":
			http.Error(w, "no", http.StatusForbidden)
		default:
			serveContent(w, r, data)
		}
	}))
	defer srv.Close()
	badHash := exp
	badHash.SHA256 = strings.Repeat("0", 64)
	small := exp
	small.Size = 100
	small.SHA256 = ""
	for _, tc := range []struct {
		name   string
		path   string
		expect Expect
		check  func(error) bool
		calls  int32
	}{
		{"404 names the URL", "/missing", exp, func(err error) bool {
			return IsNotFound(err) && strings.Contains(err.Error(), srv.URL+"/missing")
		}, 1},
		{"403 is not retried", "/forbidden", exp, func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Status == 403
		}, 1},
		{"wrong hash", "/f", badHash, func(err error) bool {
			var mm *MismatchError
			return errors.As(err, &mm) && mm.What == "sha256"
		}, 1},
		{"larger than expected", "/f", small, func(err error) bool {
			var tl *TooLargeError
			return errors.As(err, &tl)
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			dest := filepath.Join(t.TempDir(), "out")
			err := testClient(&recorder{}).Fetch(context.Background(), srv.URL+tc.path, dest, tc.expect)
			if err == nil || !tc.check(err) {
				t.Fatalf("err = %v", err)
			}
			if n := calls.Load(); n != tc.calls {
				t.Fatalf("%d requests, want %d", n, tc.calls)
			}
			for _, p := range []string{dest, dest + ".partial"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Fatalf("%s exists after a failed download", p)
				}
			}
		})
	}
}

func TestHTTPStalePartial(t *testing.T) {
	data, exp := payload(50_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveContent(w, r, data) }))
	defer srv.Close()
	dest := filepath.Join(t.TempDir(), "f")
	// Left by an interrupted download of another version of the file.
	if err := os.WriteFile(dest+".partial", bytes.Repeat([]byte{'x'}, 20_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testClient(&recorder{}).Fetch(context.Background(), srv.URL+"/f", dest, exp); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("stale partial content survived")
	}
}

func TestHTTPReadTimeout(t *testing.T) {
	data, exp := payload(10_000)
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:10])
			w.(http.Flusher).Flush()
			select { // stall until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		serveContent(w, r, data)
	}))
	defer srv.Close()
	defer close(release)
	dest := filepath.Join(t.TempDir(), "f")
	c := testClient(&recorder{}, WithReadTimeout(50*time.Millisecond))
	if err := c.Fetch(context.Background(), srv.URL+"/f", dest, exp); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d requests, want 2", calls.Load())
	}
}

func TestFetchAllConcurrency(t *testing.T) {
	data, exp := payload(2000)
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		serveContent(w, r, data)
	}))
	defer srv.Close()
	dir := t.TempDir()
	var reqs []Request
	for i := range 8 {
		reqs = append(reqs, Request{URL: fmt.Sprintf("%s/f%d", srv.URL, i), Dest: filepath.Join(dir, fmt.Sprint(i)), Expect: exp})
	}
	reqs = append(reqs, Request{URL: srv.URL + "/missing", Dest: filepath.Join(dir, "missing"), Expect: exp})
	errs := testClient(&recorder{}, WithConcurrency(2)).FetchAll(context.Background(), reqs)
	for i, err := range errs[:8] {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if !IsNotFound(errs[8]) {
		t.Fatalf("missing file: %v", errs[8])
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak concurrency %d, want at most 2", p)
	}
}

func TestFileURL(t *testing.T) {
	data, exp := payload(4096)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c := New()
	ctx := context.Background()
	dest := filepath.Join(dir, "dest")
	if err := c.Fetch(ctx, "file://"+src, dest, exp); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("copy differs")
	}
	bad := exp
	bad.SHA256 = strings.Repeat("a", 64)
	err := c.Fetch(ctx, "file://"+src, dest+"2", bad)
	var mm *MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("wrong hash: %v", err)
	}
	if _, err := os.Stat(dest + "2"); !os.IsNotExist(err) {
		t.Fatal("file kept after hash mismatch")
	}
	err = c.Fetch(ctx, "file://"+dir+"/nope", dest+"3", exp)
	if !IsNotFound(err) || !strings.Contains(err.Error(), dir+"/nope") {
		t.Fatalf("missing: %v", err)
	}
	b, err := c.ReadSmall(ctx, "file://"+src, 4096)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadSmall: %v", err)
	}
	var tl *TooLargeError
	if _, err := c.ReadSmall(ctx, "file://"+src, 100); !errors.As(err, &tl) {
		t.Fatalf("ReadSmall over limit: %v", err)
	}
}

func TestReadSmallHTTP(t *testing.T) {
	data, _ := payload(777)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		serveContent(w, r, data)
	}))
	defer srv.Close()
	c := testClient(&recorder{})
	b, err := c.ReadSmall(context.Background(), srv.URL+"/f", 1000)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadSmall: %v", err)
	}
	if _, err := c.ReadSmall(context.Background(), srv.URL+"/missing", 1000); !IsNotFound(err) {
		t.Fatalf("ReadSmall 404: %v", err)
	}
}

func TestBar(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	b := NewBar(&out, func() time.Time { return now })
	b.Finish("http://x/by-hash/SHA256/abc", &NotFoundError{})
	if out.Len() != 0 {
		t.Fatalf("a download that never started drew %q", out.String())
	}
	b.SetTotal(2 << 20)
	b.Start("http://x/Packages.xz", 2<<20, 0)
	b.Add("http://x/Packages.xz", 1<<20)
	b.Start("http://x/Packages.xz", 2<<20, 1<<19) // a retry resuming at 512 KiB
	b.Add("http://x/Packages.xz", 1<<19)
	now = now.Add(time.Second)
	b.Add("http://x/Packages.xz", 1<<20)
	b.Finish("http://x/Packages.xz", nil)
	if !strings.Contains(out.String(), "100% 2.0 MiB/2.0 MiB Packages.xz") {
		t.Fatalf("bar output %q", out.String())
	}
	b.Clear()
	// Each drawing erases the line first (a shorter one left the end of
	// the longer one before it), and Clear erases it whatever its length.
	if lines := testfixture.Screen(out.String()); len(lines) != 1 || lines[0] != "" {
		t.Errorf("the bar left %q on the terminal", lines)
	}
}

// TestBarTotalDoesNotJump reproduces issue 18's bar: four downloads of
// 100 bytes, two at a time; the total summed as they started made the
// percentage read 100% -> 50% -> 100% -> 75%. With the total set first it
// only grows, and without one no percentage is drawn.
func TestBarTotalDoesNotJump(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	run := func(total int64) string {
		var out bytes.Buffer
		b := NewBar(&out, func() time.Time { now = now.Add(time.Second); return now })
		b.SetTotal(total)
		for _, pair := range [][2]string{{"a", "b"}, {"c", "d"}} {
			for _, n := range pair {
				b.Start("http://x/"+n+".deb", 100, 0)
			}
			for _, n := range pair {
				b.Add("http://x/"+n+".deb", 100)
				b.Finish("http://x/"+n+".deb", nil)
			}
		}
		return out.String()
	}
	last := -1
	for _, line := range strings.Split(run(400), "\r")[1:] {
		var pct int
		i := strings.Index(line, "%")
		if i < 3 {
			t.Fatalf("no percentage in %q", line)
		}
		fmt.Sscan(strings.TrimSpace(line[i-3:i]), &pct)
		if pct < last {
			t.Errorf("the percentage went back from %d%% to %d%% (%q)", last, pct, line)
		}
		last = pct
	}
	if last != 100 {
		t.Errorf("ended at %d%%", last)
	}
	if out := run(0); strings.Contains(out, "%") || !strings.Contains(out, "Downloading 400 B d.deb") {
		t.Errorf("without a total: %q", out)
	}
}
