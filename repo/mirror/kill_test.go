package mirror

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/repo/release"
	"github.com/greypm/grey/repo/trust"
)

// greyFaultBinary builds cmd/grey with the faultinject tag:
// GREY_TEST_KILL_AT=N makes a sync SIGKILL itself at its Nth step
// boundary, GREY_TEST_NOW fixes its clock. The package's tests share one
// build (faultBin, removed by TestMain).
func greyFaultBinary(t *testing.T) string {
	t.Helper()
	faultBin.mu.Lock()
	defer faultBin.mu.Unlock()
	if faultBin.path != "" {
		return faultBin.path
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	dir, err := os.MkdirTemp("", "grey-fault-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "grey")
	cmd := exec.Command(goTool, "build", "-tags", "faultinject", "-o", out, "../../cmd/grey")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("build grey with faultinject: %v\n%s", err, b)
	}
	faultBin.dir, faultBin.path = dir, out
	return out
}

// faultBin is the one faultinject build of the package's tests.
var faultBin struct {
	mu        sync.Mutex
	dir, path string
}

func runGrey(bin, root string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "GREY_TEST_NOW="+clock().Format(time.RFC3339))...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// checkServed checks what a client sees in the mirror at dir: every
// suite's InRelease verifies with keyring, every index it lists for
// main/binary-amd64 is there by hash with the size and SHA256 it says,
// and every .deb those indexes name is in the pool, whole. That is what
// apt needs to update and install from the mirror.
func checkServed(t *testing.T, dir, keyring string) {
	t.Helper()
	kr, err := trust.LoadKeyring(keyring)
	if err != nil {
		t.Fatal(err)
	}
	suites, _ := filepath.Glob(filepath.Join(dir, "dists/*/InRelease"))
	if len(suites) == 0 {
		t.Fatal("no InRelease served")
	}
	for _, p := range suites {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		text, _, err := kr.VerifyClearsigned(data, clock())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rel, err := release.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		suiteDir := filepath.Dir(p)
		var packages string
		for _, f := range rel.SHA256 {
			if !strings.HasPrefix(f.Path, "main/binary-amd64/Packages") {
				continue
			}
			byHash := filepath.Join(suiteDir, path.Dir(f.Path), "by-hash/SHA256", f.Hash)
			ok, err := fileHas(byHash, f.Size, f.Hash)
			if err != nil || !ok {
				t.Fatalf("%s lists %s, which is not served by hash", p, f.Path)
			}
			if path.Base(f.Path) == "Packages" {
				packages = byHash
			}
		}
		if packages == "" {
			t.Fatalf("%s lists no plain Packages", p)
		}
		fh, err := os.Open(packages)
		if err != nil {
			t.Fatal(err)
		}
		r := control.NewReader(bufio.NewReader(fh))
		for {
			st, err := r.Next()
			if err != nil {
				break
			}
			name := st.Get("Filename")
			var size int64
			fmt.Sscan(st.Get("Size"), &size)
			if ok, _ := fileHas(filepath.Join(dir, name), size, st.Get("SHA256")); !ok {
				t.Fatalf("%s names %s, which the pool does not hold whole", p, name)
			}
		}
		fh.Close()
	}
}

// TestKillSync kills `grey mirror sync` with SIGKILL at every step
// boundary of a sync (the last staged index, each pool file moved in,
// each by-hash copy, index and Release file of the switch, the state, the
// commit) and at random instants: after each kill the served tree is
// consistent (checkServed; at the boundaries of the switch, real apt updates and
// installs from it too), and the next sync finishes with the tree
// exactly as an uninterrupted sync leaves it.
func TestKillSync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds grey and runs it dozens of times")
	}
	bin := greyFaultBinary(t)
	up := t.TempDir()
	k, kp := testKey(t, "upstream", t.TempDir())
	var v1, v2 []pkgSpec
	for i := range 6 {
		v1 = append(v1, pkgSpec{fmt.Sprintf("pk%d", i), "1.0", ""})
		v2 = append(v2, pkgSpec{fmt.Sprintf("pk%d", i), "1.1", ""})
	}
	publishUpstream(t, up, k, clock().Add(-48*time.Hour), v1...)
	template := t.TempDir()
	line := fmt.Sprintf("deb [signed-by=%s] file://%s stable main", kp.Keyring, up)
	if out, err := runGrey(bin, template, nil, "mirror", "create", "m", "--source", line, "--arch", "amd64"); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if out, err := runGrey(bin, template, nil, "mirror", "sync", "m"); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	publishUpstream(t, up, k, clock().Add(-24*time.Hour), v2...)

	work := t.TempDir()
	copyRoot := func(name string) string {
		dst := filepath.Join(work, name)
		if b, err := exec.Command("cp", "-a", template, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp -a: %v\n%s", err, b)
		}
		return dst
	}
	mdir := func(root string) string { return filepath.Join(root, DefaultDirIn, "m") }
	line2 := func(dir string) string {
		return fmt.Sprintf("deb [signed-by=%s] file://%s stable main", kp.Keyring, dir)
	}

	// The uninterrupted sync: its steps and its result.
	full := copyRoot("full")
	logf := filepath.Join(work, "steps")
	if out, err := runGrey(bin, full, []string{"GREY_TEST_FAULT_LOG=" + logf}, "mirror", "sync", "m"); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}
	want := servedHash(t, mdir(full))
	checkServed(t, mdir(full), kp.Keyring)
	data, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	steps := lines(string(data))
	t.Logf("%d step boundaries: %s", len(steps), strings.Join(steps, ", "))

	check := func(name string, withApt bool, kill func(root string)) {
		root := copyRoot(name)
		kill(root)
		checkServed(t, mdir(root), kp.Keyring)
		if withApt {
			// Real apt agrees: the killed mirror updates and installs.
			newAptEnv(t, line2(mdir(root))).updateAndDownload("pk0")
		}
		if out, err := runGrey(bin, root, nil, "mirror", "sync", "m"); err != nil {
			t.Fatalf("%s: the sync after the kill: %v\n%s", name, err, out)
		}
		if got := servedHash(t, mdir(root)); got != want {
			t.Errorf("%s: after the kill and a new sync the served tree differs from an uninterrupted sync's", name)
		}
		checkServed(t, mdir(root), kp.Keyring)
	}
	switched := false // past the pool: inside the switch of the served tree
	for i := range steps {
		switched = switched || strings.HasSuffix(steps[i], " by-hash")
		check(fmt.Sprintf("kill%d", i+1), switched, func(root string) {
			out, err := runGrey(bin, root, []string{fmt.Sprintf("GREY_TEST_KILL_AT=%d", i+1)}, "mirror", "sync", "m")
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("kill at %s: %v\n%s", steps[i], err, out)
			}
		})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5 {
		check(fmt.Sprintf("random%d", i), false, func(root string) {
			cmd := exec.CommandContext(context.Background(), bin, "--root", root, "mirror", "sync", "m")
			cmd.Env = append(os.Environ(), "GREY_TEST_NOW="+clock().Format(time.RFC3339))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		})
	}
}
