package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo/storage"
)

// TestS3PublishAndMirrorCommands runs the object-store commands as a user
// would, against a real SeaweedFS with the credentials in the
// environment: `grey repo publish --out s3://...` of the fixture's 22
// packages, which prints the bucket's HTTP source line; `grey update` and
// real apt-get (update, install --download-only) read that through the
// gateway's HTTP endpoint with the generated key; then `grey mirror
// create --dir s3://...` of that repository (over HTTP) into another
// prefix, sync, snapshot and gc, and grey update and apt read the
// mirror and its snapshot from the bucket as well.
func TestS3PublishAndMirrorCommands(t *testing.T) {
	srv := testfixture.SeaweedFS(t)
	srv.Env(t)
	fx := testfixture.Bookworm(t)
	aptGet := testfixture.Tool(t, "apt-get", "apt")
	// apt checks the Release's Date against the real clock.
	now := time.Now().UTC().Truncate(time.Second)
	createBucket(t, "s3://grey?endpoint="+srv.Endpoint)
	web := srv.Endpoint + "/grey"

	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	if code, _, errOut := greyAt(t, now, "key", "generate", "--name", "S3 test", "--out", prefix); code != 0 {
		t.Fatalf("key generate: %d %s", code, errOut)
	}
	out := "s3://grey/repo?endpoint=" + srv.Endpoint
	code, stdout, errOut := greyAt(t, now, "repo", "publish", "--key", prefix+".key.asc", "--suite", "stable", "--arch", "amd64",
		"--out", out, filepath.Join(fx, "debian", "pool"), filepath.Join(fx, "debian-security", "pool"))
	if code != 0 {
		t.Fatalf("repo publish --out %s: exit %d\n%s%s", out, code, stdout, errOut)
	}
	for _, want := range []string{
		"published stable to " + out + ": 22 packages (main/amd64 22)",
		"source: deb [signed-by=KEYRING.gpg] " + web + "/repo stable main\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("repo publish output lacks %q:\n%s", want, stdout)
		}
	}
	keyring := prefix + ".gpg"
	line := func(base, suite string) string {
		return fmt.Sprintf("deb [signed-by=%s] %s %s main", keyring, base, suite)
	}
	update := func(src string) {
		t.Helper()
		code, stdout, errOut := greyAt(t, now.Add(time.Minute), "--root", t.TempDir(), "--source", src, "update")
		if code != 0 || !strings.Contains(stdout, "Get ") {
			t.Fatalf("grey update from %s: %d\n%s%s", src, code, stdout, errOut)
		}
	}
	apt := func(src string) {
		t.Helper()
		env := testfixture.NewAptEnv(t, testfixture.AptOptions{Sources: []string{src}})
		out, err := env.Run(context.Background(), aptGet, "update")
		if err != nil || strings.Contains(out, "W: ") || strings.Contains(out, "E: ") || strings.Contains(out, "Err:") {
			t.Fatalf("apt-get update from %s: %v\n%s", src, err, out)
		}
		out, err = env.Run(context.Background(), aptGet, "install", "--download-only", "--no-install-recommends", "-y", "hello")
		if err != nil || !strings.Contains(out, "libc6") {
			t.Fatalf("apt-get install --download-only hello from %s: %v\n%s", src, err, out)
		}
	}
	update(line(web+"/repo", "stable"))
	apt(line(web+"/repo", "stable"))

	// A mirror of that repository, read over HTTP, published into the
	// same bucket under mirror/.
	root := t.TempDir()
	mdest := "s3://grey/mirror?endpoint=" + srv.Endpoint
	code, stdout, errOut = greyAt(t, now, "--root", root, "mirror", "create", "up", "--source", line(web+"/repo", "stable"), "--arch", "amd64", "--dir", mdest)
	if code != 0 || !strings.Contains(stdout, "publishing to "+mdest) {
		t.Fatalf("mirror create --dir %s: %d\n%s%s", mdest, code, stdout, errOut)
	}
	code, stdout, errOut = greyAt(t, now.Add(time.Minute), "--root", root, "mirror", "sync", "up")
	if code != 0 || !strings.Contains(stdout, "Get stable; 25 files") {
		t.Fatalf("mirror sync: %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = greyAt(t, now.Add(time.Minute), "--root", root, "mirror", "snapshot", "up", "v1")
	if code != 0 || !strings.Contains(stdout, "snapshot v1 = ") {
		t.Fatalf("mirror snapshot: %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = greyAt(t, now.Add(time.Minute), "--root", root, "mirror", "gc", "up")
	if code != 0 || !strings.Contains(stdout, "0 files deleted, 22 pool files kept") {
		t.Fatalf("mirror gc: %d\n%s%s", code, stdout, errOut)
	}
	for _, base := range []string{web + "/mirror", web + "/mirror/snapshots/v1"} {
		update(line(base, "stable"))
		apt(line(base, "stable"))
	}
}

// createBucket creates the bucket dest names, retrying while a new
// cluster has no volume server yet.
func createBucket(t *testing.T, dest string) {
	t.Helper()
	cfg, err := storage.ParseS3URL(dest)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	testfixture.Retry(t, "create bucket "+cfg.Bucket, time.Minute, func() error {
		return st.CreateBucket(context.Background())
	})
}
