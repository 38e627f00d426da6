package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/key"
	"github.com/greypm/grey/repo/publish"
	"github.com/greypm/grey/repo/sources"
	"github.com/greypm/grey/repo/storage"
)

// The tests in this file publish to a real SeaweedFS cluster (weed server
// -s3, started by testfixture.SeaweedFS) and read the result over plain
// HTTP from its S3 gateway, as apt and grey do.

// requestCounter counts the S3 requests a storage makes, by method and
// by whether the key is in the pool, and records the key of each PUT.
type requestCounter struct {
	next                http.RoundTripper
	all, puts, poolPuts atomic.Int64
	mu                  sync.Mutex
	putKeys             []string // URL paths, /BUCKET/PREFIX/NAME
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.all.Add(1)
	if r.Method == http.MethodPut {
		c.puts.Add(1)
		if strings.Contains(r.URL.Path, "/pool/") {
			c.poolPuts.Add(1)
		}
		c.mu.Lock()
		c.putKeys = append(c.putKeys, r.URL.Path)
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

// putNames returns the names (relative to the tree at /BUCKET/PREFIX/)
// of the PUTs from the n-th on, sorted, and how many there were in all.
func (c *requestCounter) putNames(tree string, n int) ([]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.putKeys[n:] {
		out = append(out, strings.TrimPrefix(k, tree))
	}
	sort.Strings(out)
	return out, len(c.putKeys)
}

// s3Dest is the test's own prefix of the bucket "grey" on the package's
// shared SeaweedFS, with the credentials in the environment.
type s3Dest struct {
	srv *testfixture.S3Server
	url string // s3://grey/PREFIX?endpoint=...
	key string // /grey/PREFIX/, the tree's root in request paths
	web string // the gateway's URL of the tree, for apt and grey
	st  *storage.S3
	req *requestCounter
}

func newS3Dest(t *testing.T) *s3Dest {
	t.Helper()
	srv := weed.Get(t)
	srv.Env(t)
	prefix := testfixture.S3Prefix(t)
	d := &s3Dest{srv: srv, url: "s3://grey/" + prefix + "?endpoint=" + srv.Endpoint, web: srv.Endpoint + "/grey/" + prefix, key: "/grey/" + prefix + "/"}
	cfg, err := storage.ParseS3URL(d.url)
	if err != nil {
		t.Fatal(err)
	}
	d.req = &requestCounter{next: http.DefaultTransport}
	cfg.HTTPClient = &http.Client{Transport: d.req}
	if d.st, err = storage.NewS3(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := d.st.CreateBucket(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return d
}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// verifyServed does what a client does with the tree at base: verify
// suite's InRelease with ring, fetch every index it lists by hash and
// check it, and check every pool file the Packages indexes name (by
// content the first time a name is seen, then that it is still there
// with its size). It returns the first problem.
func verifyServed(base, suite string, ring openpgp.EntityList, at time.Time, seen *sync.Map) error {
	in, err := httpGet(base + "/dists/" + suite + "/InRelease")
	if err != nil {
		return err
	}
	b, _ := clearsign.Decode(in)
	if b == nil {
		return errors.New("InRelease is not clearsigned")
	}
	if _, err := b.VerifySignature(ring, &packet.Config{Time: func() time.Time { return at }}); err != nil {
		return fmt.Errorf("InRelease signature: %w", err)
	}
	rel, err := control.ParseAll(bytes.NewReader(b.Plaintext))
	if err != nil || len(rel) == 0 {
		return fmt.Errorf("parse Release: %v", err)
	}
	for _, line := range strings.Split(rel[0].Get("SHA256"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		hash, size, name := f[0], f[1], f[2]
		data, err := httpGet(base + "/dists/" + suite + "/" + path.Dir(name) + "/by-hash/SHA256/" + hash)
		if err != nil {
			return fmt.Errorf("index %s (Release of %s): %w", name, rel[0].Get("Date"), err)
		}
		if strconv.Itoa(len(data)) != size || sha256Hex(data) != hash {
			return fmt.Errorf("index %s: hash mismatch", name)
		}
		if path.Base(name) != "Packages" {
			continue
		}
		stanzas, err := control.ParseAll(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("parse %s: %w", name, err)
		}
		for _, s := range stanzas {
			fn, sum := s.Get("Filename"), s.Get("SHA256")
			if v, ok := seen.Load(fn); ok && v == sum {
				resp, err := http.Head(base + "/" + fn)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strconv.FormatInt(resp.ContentLength, 10) != s.Get("Size") {
					return fmt.Errorf("pool file %s: %s, %d bytes", fn, resp.Status, resp.ContentLength)
				}
				continue
			}
			deb, err := httpGet(base + "/" + fn)
			if err != nil {
				return fmt.Errorf("pool file %s: %w", fn, err)
			}
			if sha256Hex(deb) != sum {
				return fmt.Errorf("pool file %s: hash mismatch", fn)
			}
			seen.Store(fn, sum)
		}
	}
	return nil
}

func publicRing(t testing.TB, k *key.Key) openpgp.EntityList {
	t.Helper()
	var pub bytes.Buffer
	if err := k.WritePublicKeyring(&pub); err != nil {
		t.Fatal(err)
	}
	ring, err := openpgp.ReadKeyRing(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func sortedDebs(t *testing.T) []string {
	var debs []string
	for _, p := range fixtureDebs(t) {
		debs = append(debs, p)
	}
	sort.Strings(debs)
	return debs
}

func publishTo(ctx context.Context, st storage.Storage, k *key.Key, date time.Time, debs []string) (*publish.Result, error) {
	return publish.Publish(ctx, st, publish.Options{
		Key: k, Suite: "stable", Origin: "test", Label: "test",
		Components:    []publish.Component{{Name: "main", Inputs: debs}},
		Architectures: []string{"amd64"}, Date: date,
	})
}

// TestS3PublishFixture publishes the fixture's 22 packages to a bucket
// with grey's S3 storage; real apt-get update and install --download-only
// and grey's update read it through the gateway's HTTP endpoint with the
// generated key. A republish with one amd64 package more uploads only
// what changed: that .deb, amd64's three indexes and their by-hash
// copies, the Release files, the history and the lock; not the other 21
// .debs and not arm64's indexes (which only the arch-all netbase is in);
// it learns what is there from one listing, not a HEAD per object.
func TestS3PublishFixture(t *testing.T) {
	d := newS3Dest(t)
	k, kp := testKey(t, "s3", t.TempDir())
	debs := sortedDebs(t)
	first := debs[:len(debs)-1]
	if strings.HasSuffix(debs[len(debs)-1], "_all.deb") {
		t.Fatalf("the added package %s is arch-all: it would change every index", debs[len(debs)-1])
	}
	pub := func(date time.Time, debs []string) (*publish.Result, error) {
		return publish.Publish(context.Background(), d.st, publish.Options{
			Key: k, Suite: "stable", Origin: "test", Label: "test",
			Components:    []publish.Component{{Name: "main", Inputs: debs}},
			Architectures: []string{"amd64", "arm64"}, Date: date,
		})
	}
	if _, err := pub(clock(), first); err != nil {
		t.Fatal(err)
	}
	if got := d.req.poolPuts.Load(); got != 21 {
		t.Errorf("first publish: %d pool uploads, want 21", got)
	}
	oldRel, err := httpGet(d.web + "/dists/stable/Release")
	if err != nil {
		t.Fatal(err)
	}
	// A stray object of the added .deb's size at its pool name (a killed
	// upload of another build, say): the listing's MD5 differs, so the
	// publish checks the SHA256 (one HEAD) and replaces it.
	added := debs[len(debs)-1]
	fi, err := os.Stat(added)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := storage.ParseS3URL(d.url)
	plain, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	poolName := "pool/main/z/zlib/" + filepath.Base(added)
	if err := plain.Put(context.Background(), poolName, bytes.NewReader(make([]byte, fi.Size())), storage.Sum{}); err != nil {
		t.Fatal(err)
	}
	_, nputs := d.req.putNames(d.key, 0)
	all := d.req.all.Load()
	res, err := pub(clock().Add(time.Hour), debs)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.req.poolPuts.Load() - 21; got != 1 || len(res.Added) != 1 {
		t.Errorf("republish with one more package: %d pool uploads, added %v; want 1", got, res.Added)
	}
	newRel, err := httpGet(d.web + "/dists/stable/Release")
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(res.Added), ".grey-publish.json", storage.LockName,
		"dists/stable/InRelease", "dists/stable/Release", "dists/stable/Release.gpg")
	before, after := releaseIndexes(t, oldRel), releaseIndexes(t, newRel)
	unchanged := 0
	for rel, sums := range after {
		if before[rel] == sums {
			unchanged++
			continue
		}
		dir := "dists/stable/" + path.Dir(rel)
		want = append(want, "dists/stable/"+rel, dir+"/by-hash/SHA256/"+sums[0], dir+"/by-hash/MD5Sum/"+sums[1])
	}
	sort.Strings(want)
	got, _ := d.req.putNames(d.key, nputs)
	if !slices.Equal(got, want) {
		t.Errorf("incremental publish uploaded\n  %s\nwant only what changed\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if unchanged != 3 {
		t.Errorf("%d indexes unchanged by the added amd64 package, want arm64's 3", unchanged)
	}
	// Besides the PUTs: the history's GET, one listing of the tree, the
	// stray's HEAD and the lock's DELETE; no HEAD per pool file or index.
	if other := d.req.all.Load() - all - int64(len(got)); other != 4 {
		t.Errorf("incremental publish: %d requests other than PUTs, want 4", other)
	}
	t.Logf("incremental publish: %d PUT requests, %d requests in all", len(got), d.req.all.Load()-all)
	if err := verifyServed(d.web, "stable", publicRing(t, k), clock().Add(24*time.Hour), &sync.Map{}); err != nil {
		t.Fatal(err)
	}
	// apt, over plain HTTP from the gateway.
	out := newAptEnv(t, fmt.Sprintf("deb [signed-by=%s] %s stable main", kp.Keyring, d.web)).updateAndDownload("hello")
	for _, want := range []string{"hello", "libc6"} {
		if !strings.Contains(out, want) {
			t.Errorf("apt-get install --download-only hello lacks %s:\n%s", want, out)
		}
	}
	// grey update, through the same code grey update runs.
	s, err := sources.Parse(fmt.Sprintf("deb [signed-by=%s] %s stable main", kp.Keyring, d.web))
	if err != nil {
		t.Fatal(err)
	}
	ures, err := repo.Update(context.Background(), []*sources.Source{s}, repo.Options{Root: t.TempDir(), Now: func() time.Time { return clock().Add(2 * time.Hour) }, Store: &repo.MemoryStore{}, Architectures: []string{"amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ures) != 1 || ures[0].Status != repo.Get {
		t.Errorf("grey update: %+v", ures)
	}
}

// reader fetches InRelease and every file it names, verifying each, in
// a loop until stopped: a client reading the bucket while publishes run.
type reader struct {
	done   chan struct{}
	wg     sync.WaitGroup
	rounds atomic.Int64
	mu     sync.Mutex
	errs   []error // the first five problems
	failed int     // rounds that saw a problem
}

func startReader(d *s3Dest, ring openpgp.EntityList, at time.Time) *reader {
	r := &reader{done: make(chan struct{})}
	seen := &sync.Map{}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-r.done:
				return
			default:
			}
			if err := verifyServed(d.web, "stable", ring, at, seen); err != nil {
				r.mu.Lock()
				r.failed++
				if len(r.errs) < 5 {
					r.errs = append(r.errs, err)
				}
				r.mu.Unlock()
			}
			r.rounds.Add(1)
		}
	}()
	return r
}

// stop ends the loop after its current round, marks t failed with the
// problems the reader saw, and returns the number of rounds, at least
// one whole round after stop was called having run (so the final state
// is read too).
func (r *reader) stop(t *testing.T) int64 {
	t.Helper()
	n := r.rounds.Load()
	for r.rounds.Load() < n+2 {
		time.Sleep(10 * time.Millisecond)
	}
	close(r.done)
	r.wg.Wait()
	for _, err := range r.errs {
		t.Errorf("reader: %v", err)
	}
	if r.failed > 0 {
		t.Errorf("the reader saw problems in %d of %d rounds", r.failed, r.rounds.Load())
	}
	return r.rounds.Load()
}

// TestS3ReaderDuringPublishes: a reader that fetches InRelease and every
// file it names, in a loop, while ten publishes run (packages added and
// removed each time), never sees a hash mismatch or a missing file; and
// afterwards the bucket holds exactly what the kept generations name (gc
// deleted the rest, and nothing still named).
func TestS3ReaderDuringPublishes(t *testing.T) {
	d := newS3Dest(t)
	k, _ := testKey(t, "s3", t.TempDir())
	ring := publicRing(t, k)
	debs := sortedDebs(t)
	subset := func(i int) []string {
		var out []string
		for j, p := range debs {
			if j%5 != i%5 && j != (i*3)%len(debs) {
				out = append(out, p)
			}
		}
		return out
	}
	if _, err := publishTo(context.Background(), d.st, k, clock(), subset(0)); err != nil {
		t.Fatal(err)
	}
	r := startReader(d, ring, clock().Add(24*time.Hour))
	var changes int
	for i := 1; i <= 10; i++ {
		res, err := publishTo(context.Background(), d.st, k, clock().Add(time.Duration(i)*time.Minute), subset(i))
		if err != nil {
			r.stop(t)
			t.Fatalf("publish %d: %v", i, err)
		}
		changes += len(res.Added) + len(res.Removed)
	}
	rounds := r.stop(t)
	t.Logf("reader: %d rounds during 10 publishes (%d packages added or removed)", rounds, changes)
	if changes < 20 {
		t.Errorf("the publishes changed %d packages, want each to add and remove some", changes)
	}
	checkBucketIsKept(t, d)
}

// releaseIndexes returns the SHA256 and MD5 of each index a Release
// file lists.
func releaseIndexes(t *testing.T, release []byte) map[string][2]string {
	t.Helper()
	st, err := control.ParseAll(bytes.NewReader(release))
	if err != nil || len(st) != 1 {
		t.Fatalf("parse Release: %v", err)
	}
	out := map[string][2]string{}
	for i, field := range []string{"SHA256", "MD5Sum"} {
		for _, line := range strings.Split(st[0].Get(field), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				sums := out[f[2]]
				sums[i] = f[0]
				out[f[2]] = sums
			}
		}
	}
	return out
}

// checkBucketIsKept compares the bucket's objects with the files that the
// publish history's kept generations name.
func checkBucketIsKept(t *testing.T, d *s3Dest) {
	t.Helper()
	ctx := context.Background()
	r, err := d.st.Open(ctx, ".grey-publish.json")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Generations []struct{ Files []string } `json:"generations"`
	}
	err = json.NewDecoder(r).Decode(&state)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{".grey-publish.json": true}
	for _, g := range state.Generations {
		for _, f := range g.Files {
			want[f] = true
		}
	}
	for _, s := range []string{"InRelease", "Release", "Release.gpg"} {
		want["dists/stable/"+s] = true
	}
	got, err := d.st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range got {
		if !want[name] {
			t.Errorf("the bucket holds %s, which no kept generation names (gc missed it)", name)
		}
		delete(want, name)
	}
	for name := range want {
		t.Errorf("a kept generation names %s, which the bucket lacks", name)
	}
	if len(state.Generations) != publish.DefaultKeep {
		t.Errorf("%d generations kept, want %d", len(state.Generations), publish.DefaultKeep)
	}
}

// failAt is a Storage that fails its n-th write (Put, Delete or Sync) and
// every later one, as a publish killed at that point: an S3 PUT is atomic
// and durable when it returns, so what a killed process leaves is exactly
// the writes before the n-th.
type failAt struct {
	storage.Storage
	n, ops int
}

var errKilled = errors.New("killed")

func (f *failAt) step() error {
	f.ops++
	if f.ops >= f.n {
		return errKilled
	}
	return nil
}

func (f *failAt) Put(ctx context.Context, name string, r io.Reader, sum storage.Sum) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Storage.Put(ctx, name, r, sum)
}

func (f *failAt) Delete(ctx context.Context, name string) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Storage.Delete(ctx, name)
}

func (f *failAt) Sync(ctx context.Context) error {
	if err := f.step(); err != nil {
		return err
	}
	return f.Storage.Sync(ctx)
}

// TestS3PublishKilledAtEveryStep kills a republish (two packages added,
// one removed, one upgraded) at each of its writes in turn: after each kill
// the bucket verifies as the old state or the new, and the next publish
// finishes with exactly what an uninterrupted one writes. A reader
// verifies the bucket in a loop all along (during the publishes, the
// killed ones and the ones that finish after them): it never sees a
// hash mismatch, a bad signature or a missing file.
func TestS3PublishKilledAtEveryStep(t *testing.T) {
	d := newS3Dest(t)
	k, _ := testKey(t, "s3", t.TempDir())
	ring := publicRing(t, k)
	in := t.TempDir()
	build := func(specs ...pkgSpec) []string {
		var out []string
		for _, s := range specs {
			out = append(out, buildDeb(t, in, s))
		}
		return out
	}
	a := build(pkgSpec{"alpha", "1.0", ""}, pkgSpec{"beta", "1.0", ""}, pkgSpec{"gamma", "1.0", ""})
	b := build(pkgSpec{"alpha", "1.0", ""}, pkgSpec{"beta", "2.0", ""}, pkgSpec{"delta", "1.0", ""}, pkgSpec{"eps", "1.0", "Depends: delta\n"})
	ctx := context.Background()
	date := clock()
	next := func() time.Time { date = date.Add(time.Minute); return date }
	at := clock().Add(24 * time.Hour)
	if _, err := publishTo(ctx, d.st, k, next(), a); err != nil {
		t.Fatal(err)
	}
	r := startReader(d, ring, at)
	defer func() {
		if r != nil {
			r.stop(t)
		}
	}()
	for n := 1; ; n++ {
		if _, err := publishTo(ctx, d.st, k, next(), a); err != nil {
			t.Fatal(err)
		}
		f := &failAt{Storage: d.st, n: n}
		_, killErr := publishTo(ctx, f, k, next(), b)
		if killErr != nil && !errors.Is(killErr, errKilled) {
			t.Fatalf("publish killed at write %d: %v", n, killErr)
		}
		if err := verifyServed(d.web, "stable", ring, at, &sync.Map{}); err != nil {
			t.Fatalf("killed at write %d: the bucket does not verify: %v", n, err)
		}
		if _, err := publishTo(ctx, d.st, k, date, b); err != nil {
			t.Fatalf("publish after a kill at write %d: %v", n, err)
		}
		if err := verifyServed(d.web, "stable", ring, at, &sync.Map{}); err != nil {
			t.Fatalf("after the resumed publish (kill at %d): %v", n, err)
		}
		rel, err := httpGet(d.web + "/dists/stable/Release")
		if err != nil || !bytes.Contains(rel, []byte(date.Format("02 Jan 2006 15:04"))) {
			t.Fatalf("after the resumed publish (kill at %d): Release is not the new one: %v\n%s", n, err, rel)
		}
		if killErr == nil {
			rounds := r.stop(t)
			r = nil
			t.Logf("the republish makes %d writes; killed at each; the reader verified the bucket %d times meanwhile", n-1, rounds)
			break
		}
		if n > 200 {
			t.Fatal("the republish never finished")
		}
	}
	checkBucketIsKept(t, d)
}

// TestS3MirrorSyncRequests mirrors a published repository of 21 of the
// fixture's packages into a bucket, then syncs again after upstream
// added the 22nd: the mirror learns which pool files the bucket holds
// from one listing, so neither sync makes a request per pool file (no
// HEAD of a pool object), and the second uploads only the new .deb.
func TestS3MirrorSyncRequests(t *testing.T) {
	d := newS3Dest(t)
	ctx := context.Background()
	k, kp := testKey(t, "s3", t.TempDir())
	up := t.TempDir()
	debs := sortedDebs(t)
	if _, err := publishTo(ctx, storage.Dir{Root: up}, k, clock().Add(-time.Hour), debs[:len(debs)-1]); err != nil {
		t.Fatal(err)
	}
	m, err := Create(t.TempDir(), d.url, Config{Name: "m", Sources: []string{fmt.Sprintf("deb [signed-by=%s] file://%s stable main", kp.Keyring, up)}, Architectures: []string{"amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	m.Storage = &remoteTree{local: Dir{Root: m.Dir}, remote: d.st} // the counting client
	heads := &headCounter{next: d.req.next}
	d.req.next = heads
	for i, want := range []int{21, 1} {
		_, n := d.req.putNames(d.key, 0)
		sum := syncOnce(t, m)
		got, _ := d.req.putNames(d.key, n)
		var pool []string
		for _, name := range got {
			if strings.HasPrefix(name, "pool/") {
				pool = append(pool, name)
			}
		}
		if len(pool) != want || heads.pool.Load() != 0 {
			t.Errorf("sync %d (%s): %d pool uploads (want %d), %d HEADs of pool objects (want 0)", i+1, sum, len(pool), want, heads.pool.Load())
		}
		t.Logf("sync %d: %d PUTs (%d of pool files), %d HEADs in all", i+1, len(got), len(pool), heads.all.Load())
		if i == 0 {
			if _, err := publishTo(ctx, storage.Dir{Root: up}, k, clock().Add(-30*time.Minute), debs); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := verifyServed(d.web, "stable", publicRing(t, k), clock().Add(24*time.Hour), &sync.Map{}); err != nil {
		t.Fatal(err)
	}
}

// headCounter counts HEAD requests, and those of pool objects.
type headCounter struct {
	next      http.RoundTripper
	all, pool atomic.Int64
}

func (c *headCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodHead {
		c.all.Add(1)
		if strings.Contains(r.URL.Path, "/pool/") {
			c.pool.Add(1)
		}
	}
	return c.next.RoundTrip(r)
}

// TestFullS3Mirror mirrors the bookworm fixture into a bucket (grey mirror
// create --dir s3://...), takes a snapshot, and checks that real apt reads
// the bucket and the snapshot through the HTTP endpoint with the upstream
// keyring, that grey update reads it, and that gc keeps what they name.
func TestFullS3Mirror(t *testing.T) {
	testfixture.WholeIndex(t)
	fx := testfixture.Bookworm(t)
	d := newS3Dest(t)
	root := t.TempDir()
	m, err := Create(root, d.url, Config{Name: "m", Sources: fixtureSources(t, "file://"+fx), Architectures: []string{"amd64"}, AllowMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Target != d.url || !strings.HasPrefix(m.Dir, root) {
		t.Fatalf("mirror target %q dir %q", m.Config.Target, m.Dir)
	}
	sum := syncOnce(t, m)
	if sum.Files != 25 {
		t.Errorf("first sync: %+v, want 25 files", sum)
	}
	again := syncOnce(t, m)
	if again.Files != 0 || again.Commit != "" {
		t.Errorf("second sync: %+v, want nothing fetched", again)
	}
	if _, err := TakeSnapshot(context.Background(), m, "s1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := GC(context.Background(), m, clock); err != nil {
		t.Fatal(err)
	}
	kr := filepath.Join(fx, "debian-archive-keyring.gpg")
	for _, base := range []string{d.web, d.web + "/snapshots/s1"} {
		var srcs []string
		for _, s := range []string{"bookworm", "bookworm-updates", "bookworm-security"} {
			srcs = append(srcs, fmt.Sprintf("deb [signed-by=%s check-valid-until=no] %s %s main", kr, base, s))
		}
		out := newAptEnv(t, srcs...).updateAndDownload("hello")
		if !strings.Contains(out, "libc6") {
			t.Errorf("apt from %s: hello's closure lacks libc6:\n%s", base, out)
		}
	}
	var srcs []*sources.Source
	for _, s := range []string{"bookworm", "bookworm-updates", "bookworm-security"} {
		src, err := sources.Parse(fmt.Sprintf("deb [signed-by=%s] %s %s main", kr, d.web, s))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	res, err := repo.Update(context.Background(), srcs, repo.Options{Root: t.TempDir(), Now: clock, Store: &repo.MemoryStore{}, Architectures: []string{"amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != repo.Get {
			t.Errorf("grey update %s: %s", r.ID, r.Status)
		}
	}
	// The pool is in the bucket, not in the mirror's directory.
	pool, err := d.st.List(context.Background(), "pool/")
	if err != nil || len(pool) != 22 {
		t.Errorf("bucket pool: %d objects (%v), want 22", len(pool), err)
	}
	if local, _ := filepath.Glob(filepath.Join(m.Dir, "pool", "*")); len(local) != 0 {
		t.Errorf("the mirror's directory holds pool files: %v", local)
	}
	if snap, err := d.st.List(context.Background(), "snapshots/s1/pool/"); err != nil || len(snap) != 22 {
		t.Errorf("snapshot pool: %d objects (%v), want 22", len(snap), err)
	}
}

// TestS3PublishSIGKILL kills `grey repo publish --out s3://...` processes
// with SIGKILL at random instants: after each kill the bucket verifies,
// and the next publish (which takes over the lock the killed process
// left) finishes. A reader verifies the bucket in a loop all along and
// never sees a hash mismatch or a missing file.
func TestS3PublishSIGKILL(t *testing.T) {
	d := newS3Dest(t)
	bin := greyFaultBinary(t)
	k, kp := testKey(t, "s3", t.TempDir())
	ring := publicRing(t, k)
	debs := sortedDebs(t)
	sets := [][]string{debs[:12], debs[6:], debs[3:19]}
	dirs := make([]string, len(sets))
	for i, set := range sets {
		dirs[i] = t.TempDir()
		for _, p := range set {
			if err := os.Symlink(p, filepath.Join(dirs[i], filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := t.TempDir()
	args := func(i int) []string {
		return []string{"repo", "publish", "--key", kp.Secret, "--suite", "stable", "--arch", "amd64", "--out", d.url, dirs[i%len(dirs)]}
	}
	if out, err := runGrey(bin, root, nil, args(0)...); err != nil {
		t.Fatalf("first publish: %v\n%s", err, out)
	}
	// grey repo publish signs at the real time (GREY_TEST_NOW fixes only
	// the clock of a sync).
	at := time.Now().Add(time.Hour)
	rng := rand.New(rand.NewPCG(19, 17))
	killed := 0
	r := startReader(d, ring, at)
	defer func() {
		if r != nil {
			r.stop(t)
		}
	}()
	for i := 1; i <= 8; i++ {
		cmd := exec.Command(bin, append([]string{"--root", root}, args(i)...)...)
		cmd.Env = append(os.Environ(), "GREY_TEST_NOW="+clock().Format(time.RFC3339))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		var ee *exec.ExitError
		if err := cmd.Wait(); errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		}
		if err := verifyServed(d.web, "stable", ring, at, &sync.Map{}); err != nil {
			t.Fatalf("after killing publish %d: %v", i, err)
		}
		if out, err := runGrey(bin, root, nil, args(i)...); err != nil {
			t.Fatalf("publish %d again after the kill: %v\n%s", i, err, out)
		}
		if err := verifyServed(d.web, "stable", ring, at, &sync.Map{}); err != nil {
			t.Fatalf("after publish %d: %v", i, err)
		}
	}
	rounds := r.stop(t)
	r = nil
	t.Logf("%d of 8 publishes killed before they ended; the reader verified the bucket %d times meanwhile", killed, rounds)
	checkBucketIsKept(t, d)
}
