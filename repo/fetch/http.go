package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// transientError marks a failure worth retrying: a network error, a cut
// connection, a stalled read, or an HTTP status that says "try later".
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var t *transientError
	if errors.As(err, &t) {
		return true
	}
	var s *StatusError
	if errors.As(err, &s) {
		return s.Status >= 500 || s.Status == http.StatusRequestTimeout || s.Status == http.StatusTooManyRequests
	}
	return false
}

func statusErr(rawURL string, code int) error {
	if code == http.StatusNotFound || code == http.StatusGone {
		return &NotFoundError{URL: rawURL}
	}
	return &StatusError{URL: rawURL, Status: code}
}

// retry runs fn until it succeeds, fails for good, or runs out of attempts,
// waiting with exponential back-off between attempts.
func (c *Client) retry(ctx context.Context, rawURL string, fn func(context.Context) error) error {
	delay := c.backoff
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx, rawURL)
		}
		if !isTransient(err) {
			return err
		}
		if attempt >= c.attempts {
			var se *SlowError
			if errors.As(err, &se) {
				// One error that names the server and the file.
				return &SlowError{URL: se.URL, Server: se.Server, Why: fmt.Sprintf("%s (%s)", se.Why, attempts(attempt))}
			}
			return fmt.Errorf("fetch %s: giving up after %s: %w", rawURL, attempts(attempt), err)
		}
		if serr := c.sleep(ctx, delay); serr != nil {
			if ctx.Err() != nil {
				return ctxError(ctx, rawURL)
			}
			return fmt.Errorf("fetch %s: %w", rawURL, serr)
		}
		delay = min(delay*2, c.maxBackoff)
	}
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// ctxError reports why ctx ended: the per-file deadline's SlowError as it
// is, else the cancellation, with the URL.
func ctxError(ctx context.Context, rawURL string) error {
	cause := context.Cause(ctx)
	var se *SlowError
	if errors.As(cause, &se) {
		return se
	}
	return fmt.Errorf("fetch %s: %w", rawURL, cause)
}

// get sends one GET, asking for the bytes from offset on when offset > 0.
// The returned cancel must be called when the body is no longer read; the
// body fails with a transient error when nothing arrives for the read
// timeout.
func (c *Client) get(ctx context.Context, rawURL string, offset int64, validator string) (*http.Response, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", "grey")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, nil, err
		}
		return nil, nil, &transientError{err}
	}
	sb := &stallBody{rc: resp.Body, url: rawURL, server: req.URL.Host, timeout: c.readTimeout}
	sb.timer = time.AfterFunc(c.readTimeout, func() { sb.stalled.Store(true); cancel() })
	stop := func() { sb.timer.Stop(); cancel() }
	if c.lowSpeed > 0 {
		floor := int64(float64(c.lowSpeed) * c.lowWindow.Seconds())
		var slowTimer *time.Timer
		slowTimer = time.AfterFunc(c.lowWindow, func() {
			if got := sb.window.Swap(0); got < floor {
				sb.slow.Store(&SlowError{URL: rawURL, Server: req.URL.Host,
					Why: fmt.Sprintf("%d bytes in the last %v, below the minimum of %d bytes/s", got, c.lowWindow, c.lowSpeed)})
				cancel()
				return
			}
			slowTimer.Reset(c.lowWindow)
		})
		stop = func() { slowTimer.Stop(); sb.timer.Stop(); cancel() }
	}
	resp.Body = sb
	return resp, stop, nil
}

// stallBody restarts the read timer on every read, counts the bytes of the
// current low-speed window, and turns a read cut short by the network (or
// by either timer) into a transient error.
type stallBody struct {
	rc      io.ReadCloser
	url     string
	server  string
	timeout time.Duration
	timer   *time.Timer
	stalled atomic.Bool
	window  atomic.Int64              // bytes received in the current low-speed window
	slow    atomic.Pointer[SlowError] // set when a window fell below the limit
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.timer.Reset(b.timeout)
	b.window.Add(int64(n))
	if err != nil && err != io.EOF {
		if se := b.slow.Load(); se != nil {
			return n, &transientError{se}
		}
		if b.stalled.Load() {
			err = fmt.Errorf("no data for %v", b.timeout)
		}
		return n, &transientError{fmt.Errorf("read %s: %w", b.url, err)}
	}
	return n, err
}

func (b *stallBody) Close() error { return b.rc.Close() }

// validatorOf returns what If-Range may carry for resp: a strong ETag, else
// Last-Modified, else nothing.
func validatorOf(resp *http.Response) string {
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	return resp.Header.Get("Last-Modified")
}

// contentRangeStart returns the first byte position of a Content-Range
// header ("bytes START-END/TOTAL").
func contentRangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(start), 10, 64)
	return n, err == nil && n >= 0
}

func (c *Client) fetchHTTP(ctx context.Context, rawURL, partial string, expect Expect) error {
	// A .partial left by an earlier attempt, even by another process, is
	// resumed; the final hash check catches one that belongs to another
	// version of the file, and the download then starts over once.
	var offset int64
	if fi, err := os.Stat(partial); err == nil && fi.Mode().IsRegular() {
		offset = fi.Size()
		if expect.Size > 0 && offset >= expect.Size {
			offset = 0
		}
	}
	validator := ""
	restarted := false
	return c.retry(ctx, rawURL, func(ctx context.Context) error {
		resp, cancel, err := c.get(ctx, rawURL, offset, validator)
		if err != nil {
			return err
		}
		defer cancel()
		defer resp.Body.Close()
		var start int64
		switch resp.StatusCode {
		case http.StatusOK:
			// A server that ignores Range sends the whole file again.
		case http.StatusPartialContent:
			s, ok := contentRangeStart(resp.Header.Get("Content-Range"))
			if !ok || s != offset {
				offset, validator = 0, ""
				return &transientError{fmt.Errorf("fetch %s: unusable Content-Range %q", rawURL, resp.Header.Get("Content-Range"))}
			}
			start = offset
		case http.StatusRequestedRangeNotSatisfiable:
			offset, validator = 0, ""
			return &transientError{fmt.Errorf("fetch %s: range not satisfiable, starting over", rawURL)}
		default:
			return statusErr(rawURL, resp.StatusCode)
		}
		validator = validatorOf(resp)
		w, err := newSink(partial, start, expect, rawURL)
		if err != nil {
			return err
		}
		if c.progress != nil {
			size := expect.Size
			if size == 0 && resp.ContentLength > 0 {
				size = start + resp.ContentLength
			}
			c.progress.Start(rawURL, size, start)
			w.progress = func(n int64) { c.progress.Add(rawURL, n) }
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			w.abort()
			offset = w.n
			var tl *TooLargeError
			if errors.As(err, &tl) {
				_ = os.Remove(partial)
			}
			return err
		}
		err = w.finish()
		var mm *MismatchError
		if errors.As(err, &mm) && start > 0 && !restarted {
			// The resumed bytes may belong to an older copy of the file.
			restarted = true
			offset, validator = 0, ""
			return &transientError{err}
		}
		return err
	})
}
