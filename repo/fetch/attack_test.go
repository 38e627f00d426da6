package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// trickle serves size bytes of 'x', one every gap, never pausing long
// enough to trip an idle timeout. It stops when the client goes away, and
// counts the requests it was sent.
func trickle(size int, gap time.Duration, calls *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(size))
		t := time.NewTicker(gap)
		defer t.Stop()
		for range size {
			if _, err := w.Write([]byte{'x'}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
		}
	})
}

// TestAttackSlowServer is issue 12's item 5: a server that sends one byte
// at a time, never idle long enough for the read timeout, held a download
// open for as long as it liked (793 bytes at 1 B/s: 13 minutes). The low-
// speed limit and the per-file deadline end it, with an error that names
// the server and the file, for downloads (Fetch) and for the files read
// into memory (ReadSmall: InRelease). The times are scaled down; the
// context's own bound only keeps a failing test from hanging.
func TestAttackSlowServer(t *testing.T) {
	cases := []struct {
		name string
		gap  time.Duration // between two bytes
		opts []Option
		want string // in the message
	}{
		// 20 B/s against a minimum of 1000 B/s over 200 ms windows.
		{"below the low-speed limit", 50 * time.Millisecond, []Option{WithLowSpeed(1000, 200*time.Millisecond)}, "below the minimum of 1000 bytes/s"},
		// 1000 B/s passes a 100 B/s minimum but not a 300 ms deadline
		// for 793 bytes.
		{"past the deadline", time.Millisecond, []Option{WithLowSpeed(100, 200*time.Millisecond), WithDeadline(300 * time.Millisecond)}, "not complete after 300ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(trickle(793, c.gap, &calls))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			cl := testClient(&recorder{}, append([]Option{WithRetries(2, time.Millisecond)}, c.opts...)...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			check := func(what, u string, err error) {
				t.Helper()
				var se *SlowError
				if !errors.As(err, &se) {
					t.Fatalf("%s: not refused as too slow: %v", what, err)
				}
				if se.Server != host || se.URL != u {
					t.Fatalf("%s: server %q url %q, want %q %q", what, se.Server, se.URL, host, u)
				}
				for _, s := range []string{host, u, "too slow", c.want} {
					if !strings.Contains(err.Error(), s) {
						t.Fatalf("%s: message %q does not say %q", what, err, s)
					}
				}
			}
			u := srv.URL + "/dists/stable/InRelease"
			_, err := cl.ReadSmall(ctx, u, 1<<20)
			check("ReadSmall", u, err)

			dir := t.TempDir()
			u = srv.URL + "/pool/x.deb"
			err = cl.Fetch(ctx, u, filepath.Join(dir, "x.deb"), Expect{})
			check("Fetch", u, err)
			if _, err := os.Stat(filepath.Join(dir, "x.deb")); !os.IsNotExist(err) {
				t.Fatalf("destination exists after a refused download: %v", err)
			}
			if ctx.Err() != nil {
				t.Fatal("ended by the test's own bound, not by the client")
			}
		})
	}
}
