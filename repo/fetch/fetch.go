// Package fetch downloads repository files over file:// and http(s)://.
//
// A download is written to DEST.partial and renamed to DEST only after its
// size and SHA256 match what the caller expects, so a file at DEST is always
// whole and verified. HTTP downloads retry transient failures with exponential
// back-off and resume an interrupted transfer with a Range request instead of
// starting over; a server that ignores Range is handled by starting again from
// the first byte.
package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Expect is what a downloaded file must match. A zero Size or an empty
// SHA256 means that property is not known and is not checked.
type Expect struct {
	Size   int64
	SHA256 string
}

// Fetcher gets repository files. Implementations must be safe for concurrent
// use.
type Fetcher interface {
	// Fetch downloads url to the file dest, replacing it only when the
	// download is whole and matches expect.
	Fetch(ctx context.Context, url, dest string, expect Expect) error
	// ReadSmall returns the content of url, which must not exceed limit
	// bytes (InRelease, Release.gpg: files read into memory).
	ReadSmall(ctx context.Context, url string, limit int64) ([]byte, error)
}

// NotFoundError reports a file the server does not have (HTTP 404 or 410, or
// a missing file:// path). It is never retried.
type NotFoundError struct {
	URL string
}

func (e *NotFoundError) Error() string { return "not found: " + e.URL }

// StatusError reports an HTTP response that is neither success nor "not
// found".
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// MismatchError reports a download whose size or SHA256 differs from what
// was expected; the partial file has been removed.
type MismatchError struct {
	URL  string
	What string // "size" or "sha256"
	Want string
	Got  string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: %s mismatch: expected %s, got %s", e.URL, e.What, e.Want, e.Got)
}

// TooLargeError reports a file that grew past its expected size or a limit.
type TooLargeError struct {
	URL   string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than the expected %d bytes", e.URL, e.Limit)
}

// SlowError reports a server too slow to deliver a file: below the
// low-speed limit for a whole window, or not finished by the per-file
// deadline. Server is the URL's host (and port).
type SlowError struct {
	URL    string
	Server string
	Why    string
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("%s: server %s too slow: %s", e.URL, e.Server, e.Why)
}

// IsNotFound reports whether err says the remote file does not exist.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// Progress receives download progress. Calls for different names may come
// from different goroutines at once.
type Progress interface {
	// Start announces a download of size bytes (0 when unknown); offset is
	// the number of bytes already present from an earlier attempt.
	Start(name string, size, offset int64)
	// Add reports n more bytes received.
	Add(name string, n int64)
	// Finish reports the end of the download, err nil on success.
	Finish(name string, err error)
}

// Client is a Fetcher for file://, http:// and https:// URLs.
type Client struct {
	http        *http.Client
	sleep       func(ctx context.Context, d time.Duration) error
	progress    Progress
	attempts    int
	backoff     time.Duration
	maxBackoff  time.Duration
	readTimeout time.Duration
	lowSpeed    int64 // bytes per second; 0 turns the check off
	lowWindow   time.Duration
	deadline    time.Duration
	concurrency int
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the http.Client used for http(s) URLs.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithSleep replaces the back-off wait (tests make it instant). sleep must
// return early with ctx's error when ctx is done.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) { c.sleep = sleep }
}

// WithProgress reports every download to p.
func WithProgress(p Progress) Option { return func(c *Client) { c.progress = p } }

// WithRetries sets how many attempts a download gets in total (at least 1)
// and the first back-off delay, which doubles after each failure up to 16
// times its first value.
func WithRetries(attempts int, backoff time.Duration) Option {
	return func(c *Client) {
		c.attempts = max(attempts, 1)
		c.backoff = backoff
		c.maxBackoff = 16 * backoff
	}
}

// WithReadTimeout sets how long a download may receive nothing before the
// attempt is abandoned (and retried).
func WithReadTimeout(d time.Duration) Option { return func(c *Client) { c.readTimeout = d } }

// WithLowSpeed sets the low-speed limit: an attempt that receives fewer
// than limit bytes per second on average over a whole window (counted from
// the response headers on, one window after the other) is abandoned and
// retried, as curl's --speed-limit and --speed-time. A limit of 0 turns the
// check off. It catches a server that trickles bytes just fast enough
// never to trip the read timeout.
func WithLowSpeed(limit int64, window time.Duration) Option {
	return func(c *Client) {
		c.lowSpeed = max(limit, 0)
		c.lowWindow = window
		if window <= 0 {
			c.lowSpeed = 0
		}
	}
}

// WithDeadline sets how long one file may take in all, over every attempt
// and back-off wait, before it fails with a SlowError (0: no deadline).
// It bounds a server that stays just above the low-speed limit.
func WithDeadline(d time.Duration) Option { return func(c *Client) { c.deadline = max(d, 0) } }

// WithConcurrency sets how many downloads FetchAll runs at once.
func WithConcurrency(n int) Option { return func(c *Client) { c.concurrency = max(n, 1) } }

// DefaultHTTPClient returns NewHTTPClient's client for the environment's
// proxies and the system's CAs. A malformed proxy variable fails every
// request with its message, never silently going direct.
func DefaultHTTPClient() *http.Client {
	hc, err := NewHTTPClient(Network{})
	if err != nil {
		hc, _ = NewHTTPClient(Network{HTTPProxy: Direct, HTTPSProxy: Direct})
		hc.Transport.(*http.Transport).Proxy = func(*http.Request) (*url.URL, error) { return nil, err }
	}
	return hc
}

// The defaults of New.
const (
	DefaultReadTimeout   = 60 * time.Second
	DefaultLowSpeedLimit = 1024 // bytes per second
	DefaultLowSpeedTime  = 60 * time.Second
	DefaultDeadline      = time.Hour
)

// New returns a Client with the given options applied over the defaults:
// 5 attempts, back-off from 500 ms, 60 s read timeout, a low-speed limit of
// 1 KiB/s over 60 s windows, one hour per file, 4 parallel downloads.
func New(opts ...Option) *Client {
	c := &Client{
		sleep:       sleepCtx,
		attempts:    5,
		backoff:     500 * time.Millisecond,
		maxBackoff:  8 * time.Second,
		readTimeout: DefaultReadTimeout,
		lowSpeed:    DefaultLowSpeedLimit,
		lowWindow:   DefaultLowSpeedTime,
		deadline:    DefaultDeadline,
		concurrency: 4,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = DefaultHTTPClient()
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Request is one download for FetchAll.
type Request struct {
	URL    string
	Dest   string
	Expect Expect
}

// FetchAll runs the downloads with at most the client's concurrency at once
// and returns one error per request (nil for success), in request order.
// Every request is attempted even when others fail.
func (c *Client) FetchAll(ctx context.Context, reqs []Request) []error {
	errs := make([]error, len(reqs))
	sem := make(chan struct{}, c.concurrency)
	var wg sync.WaitGroup
	for i, r := range reqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = c.Fetch(ctx, r.URL, r.Dest, r.Expect)
		}()
	}
	wg.Wait()
	return errs
}

// Fetch downloads rawURL to dest (see Fetcher).
func (c *Client) Fetch(ctx context.Context, rawURL, dest string, expect Expect) (err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if c.progress != nil {
		defer func() { c.progress.Finish(rawURL, err) }()
	}
	partial := dest + ".partial"
	switch u.Scheme {
	case "file":
		err = c.fetchFile(ctx, u, rawURL, partial, expect)
	case "http", "https":
		ctx, cancel := c.withDeadline(ctx, u, rawURL)
		defer cancel()
		err = c.fetchHTTP(ctx, rawURL, partial, expect)
	default:
		return fmt.Errorf("fetch %s: unsupported URL scheme %q", rawURL, u.Scheme)
	}
	if err != nil {
		return err
	}
	if err := os.Rename(partial, dest); err != nil {
		_ = os.Remove(partial)
		return fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	return nil
}

// ReadSmall returns the content of rawURL (see Fetcher).
func (c *Client) ReadSmall(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		f, err := openFileURL(u, rawURL)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(ctx, f, rawURL, limit)
	case "http", "https":
		ctx, cancel := c.withDeadline(ctx, u, rawURL)
		defer cancel()
		var body []byte
		err := c.retry(ctx, rawURL, func(ctx context.Context) error {
			resp, cancel, err := c.get(ctx, rawURL, 0, "")
			if err != nil {
				return err
			}
			defer cancel()
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return statusErr(rawURL, resp.StatusCode)
			}
			body, err = readLimited(ctx, resp.Body, rawURL, limit)
			return err
		})
		return body, err
	}
	return nil, fmt.Errorf("fetch %s: unsupported URL scheme %q", rawURL, u.Scheme)
}

// withDeadline bounds one file's download by the client's deadline; when it
// passes, the context's cause is a SlowError.
func (c *Client) withDeadline(ctx context.Context, u *url.URL, rawURL string) (context.Context, context.CancelFunc) {
	if c.deadline <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, c.deadline, &SlowError{URL: rawURL, Server: u.Host,
		Why: fmt.Sprintf("not complete after %v (the per-file deadline)", c.deadline)})
}

func readLimited(ctx context.Context, r io.Reader, rawURL string, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	var se *SlowError
	if errors.As(err, &se) {
		return nil, err // it names the file; kept as it is, to be retried
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rawURL, err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{URL: rawURL, Limit: limit}
	}
	return b, nil
}

// openFileURL opens the local file a file:// URL names.
func openFileURL(u *url.URL, rawURL string) (*os.File, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("fetch %s: file URL with a remote host", rawURL)
	}
	f, err := os.Open(filepath.FromSlash(u.Path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotFoundError{URL: rawURL}
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	return f, nil
}

func (c *Client) fetchFile(ctx context.Context, u *url.URL, rawURL, partial string, expect Expect) error {
	src, err := openFileURL(u, rawURL)
	if err != nil {
		return err
	}
	defer src.Close()
	if fi, err := src.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("fetch %s: is a directory", rawURL)
	}
	w, err := newSink(partial, 0, expect, rawURL)
	if err != nil {
		return err
	}
	if c.progress != nil {
		c.progress.Start(rawURL, expect.Size, 0)
		w.progress = func(n int64) { c.progress.Add(rawURL, n) }
	}
	_, err = io.Copy(w, ctxReader{ctx, src})
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		w.abort()
		_ = os.Remove(partial) // a local copy is never resumed
		if !isOurs(err) {
			err = fmt.Errorf("fetch %s: %w", rawURL, err)
		}
		return err
	}
	return nil
}

// isOurs reports errors that already name their URL.
func isOurs(err error) bool {
	var m *MismatchError
	var t *TooLargeError
	var sl *SlowError
	return errors.As(err, &m) || errors.As(err, &t) || errors.As(err, &sl)
}

// ctxReader stops a copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// sink writes a download to its .partial file, hashing as it goes.
type sink struct {
	f        *os.File
	path     string
	url      string
	h        hash.Hash
	n        int64
	expect   Expect
	progress func(int64)
}

// newSink opens partial for writing, never through a symbolic link
// planted at its name. With offset > 0 it keeps the first offset bytes
// (re-hashing them) and appends after them; offset 0 truncates.
func newSink(partial string, offset int64, expect Expect, rawURL string) (*sink, error) {
	s := &sink{path: partial, url: rawURL, h: sha256.New(), expect: expect}
	flags := os.O_RDWR | os.O_CREATE | syscall.O_NOFOLLOW
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	s.f = f
	if offset > 0 {
		n, err := io.Copy(s.h, io.LimitReader(f, offset))
		if err == nil && n != offset {
			err = fmt.Errorf("partial file %s is shorter than %d bytes", partial, offset)
		}
		if err == nil {
			err = f.Truncate(offset)
		}
		if err == nil {
			_, err = f.Seek(offset, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("fetch %s: resume: %w", rawURL, err)
		}
		s.n = offset
	}
	return s, nil
}

func (s *sink) Write(p []byte) (int, error) {
	if s.expect.Size > 0 && s.n+int64(len(p)) > s.expect.Size {
		return 0, &TooLargeError{URL: s.url, Limit: s.expect.Size}
	}
	n, err := s.f.Write(p)
	s.h.Write(p[:n])
	s.n += int64(n)
	if s.progress != nil && n > 0 {
		s.progress(int64(n))
	}
	return n, err
}

// finish checks size and hash and closes the file; on a mismatch the
// partial file is removed.
func (s *sink) finish() error {
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("fetch %s: %w", s.url, err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("fetch %s: %w", s.url, err)
	}
	if s.expect.Size > 0 && s.n != s.expect.Size {
		_ = os.Remove(s.path)
		return &MismatchError{URL: s.url, What: "size", Want: fmt.Sprint(s.expect.Size), Got: fmt.Sprint(s.n)}
	}
	if s.expect.SHA256 != "" {
		got := hex.EncodeToString(s.h.Sum(nil))
		if !strings.EqualFold(got, s.expect.SHA256) {
			_ = os.Remove(s.path)
			return &MismatchError{URL: s.url, What: "sha256", Want: s.expect.SHA256, Got: got}
		}
	}
	return nil
}

// abort closes the file, keeping it for a later resume.
func (s *sink) abort() { s.f.Close() }
