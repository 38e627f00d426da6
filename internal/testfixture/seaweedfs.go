package testfixture

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// it (by its process id) when the test ends.
func SeaweedFS(t testing.TB) *S3Server {
	t.Helper()
	weed := WeedBinary(t)
	dir := t.TempDir()
	s := &S3Server{AccessKey: "greytest", SecretKey: "greytest-secret-key"}
	conf := fmt.Sprintf(`{"identities": [
  {"name": "grey", "credentials": [{"accessKey": %q, "secretKey": %q}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
  {"name": "anonymous", "actions": ["Read"]}
]}`, s.AccessKey, s.SecretKey)
	confPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 8)
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
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
	logf, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", weed, err)
	}
	s.Pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	s.Endpoint = "http://127.0.0.1:" + ports[6]
	// The gateway answers once the filer is up; a bucket can be written
	// once the master has a volume server.
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-done:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("weed server exited at start: %s", tail(log, 2000))
		default:
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("weed server's S3 gateway did not answer in 90 s: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
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

func freePorts(t testing.TB, n int) []string {
	t.Helper()
	var ls []net.Listener
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}
