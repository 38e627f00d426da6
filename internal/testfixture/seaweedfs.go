package testfixture

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SeaweedFSVersion is the module version of SeaweedFS whose weed binary
// the tests run; .ci/run builds it into CacheDir/weed-VERSION/weed.
const SeaweedFSVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// S3Server is a SeaweedFS cluster (master, volume server, filer and S3
// gateway in one `weed server -s3` process) listening on loopback.
type S3Server struct {
	// Endpoint is the S3 gateway's URL, http://127.0.0.1:PORT; objects
	// are readable anonymously at Endpoint/BUCKET/KEY.
	Endpoint string
	// AccessKey and SecretKey are the one identity allowed to write.
	AccessKey, SecretKey string
	// Pid is the weed process's id.
	Pid int
}

// WeedBinary returns the path of SeaweedFS's weed program: $GREY_WEED,
// else the one .ci/run builds under CacheDir, else weed on PATH. It skips
// the test (fails under CI=true) when there is none.
func WeedBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GREY_WEED"); p != "" {
		return p
	}
	p := filepath.Join(CacheDir(t), "weed-"+SeaweedFSVersion, "weed")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	Missing(t, "SeaweedFS's weed binary (.ci/run builds it into "+filepath.Dir(p)+", or set GREY_WEED)")
	return ""
}

// SeaweedFS starts `weed server -s3` on free loopback ports with its data
// in a temporary directory, waits until the S3 gateway answers, and stops
// it (by its process id) when the test ends. Tests of one package share
// one server through SharedS3 instead.
func SeaweedFS(t testing.TB) *S3Server {
	t.Helper()
	weed := WeedBinary(t)
	s, stop, err := startSeaweedFS(weed, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// SharedS3 is one SeaweedFS for every test of a package: the first test
// that calls Get starts it, and the package's TestMain calls Stop after
// m.Run. Tests keep apart by writing under their own bucket prefix
// (S3Prefix). Starting a cluster costs seconds; sharing it keeps the
// suite quick.
type SharedS3 struct {
	mu   sync.Mutex
	srv  *S3Server
	err  error
	dir  string
	stop func()
}

// Get returns the shared server, starting it on first use; it skips the
// test (fails under CI=true) when there is no weed binary.
func (s *SharedS3) Get(t testing.TB) *S3Server {
	t.Helper()
	weed := WeedBinary(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil && s.err == nil {
		s.dir, s.err = os.MkdirTemp("", "grey-weed-")
		if s.err == nil {
			s.srv, s.stop, s.err = startSeaweedFS(weed, s.dir)
		}
	}
	if s.err != nil {
		t.Fatalf("shared SeaweedFS: %v", s.err)
	}
	return s.srv
}

// Stop ends the server (by its process id) and removes its data.
func (s *SharedS3) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
		s.dir = ""
	}
	s.srv = nil
}

// S3Prefix turns a test's name into a bucket prefix of its own
// ("TestS3Mirror/sub" is "tests3mirror-sub").
func S3Prefix(t testing.TB) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, t.Name())
}

// startSeaweedFS runs weed with its configuration and data under dir and
// returns once the S3 gateway answers; stop kills the process by its id
// and waits for it.
func startSeaweedFS(weed, dir string) (*S3Server, func(), error) {
	s := &S3Server{AccessKey: "greytest", SecretKey: "greytest-secret-key"}
	conf := fmt.Sprintf(`{"identities": [
  {"name": "grey", "credentials": [{"accessKey": %q, "secretKey": %q}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
  {"name": "anonymous", "actions": ["Read"]}
]}`, s.AccessKey, s.SecretKey)
	confPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, nil, err
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, nil, err
	}
	args := []string{"server", "-s3", "-filer",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + data,
		"-master.port=" + ports[0], "-master.port.grpc=" + ports[1],
		"-volume.port=" + ports[2], "-volume.port.grpc=" + ports[3],
		"-filer.port=" + ports[4], "-filer.port.grpc=" + ports[5],
		"-s3.port=" + ports[6], "-s3.port.grpc=" + ports[7],
		"-s3.config=" + confPath,
		"-master.volumeSizeLimitMB=64", "-volume.max=16",
		"-master.telemetry=false", "-volume.preStopSeconds=0",
	}
	cmd := exec.Command(weed, args...)
	// A test binary that dies without stopping it (a -timeout panic, a
	// SIGKILL) takes weed with it instead of leaving it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", weed, err)
	}
	s.Pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	s.Endpoint = "http://127.0.0.1:" + ports[6]
	// The gateway answers once the filer is up; a bucket can be written
	// once the master has a volume server.
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-done:
			log, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("weed server exited at start: %s", tail(log, 2000))
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return s, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("weed server's S3 gateway did not answer in 90 s: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Env sets the AWS environment variables that give s's credentials to
// the AWS SDK, as a user's shell would, for the rest of the test.
func (s *S3Server) Env(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}

// Retry calls f until it returns nil, every half second for at most
// limit, and fails the test with what and f's last error after that: for
// the first requests to a server that has just started (a new SeaweedFS
// cluster refuses to make a bucket until a volume server has joined).
func Retry(t testing.TB, what string, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
