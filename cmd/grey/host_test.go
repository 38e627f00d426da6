package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/pkgdb/dpkgdb"
)

// hostRoot is a real Debian root made by mmdebstrap (so by dpkg and apt),
// with grey's sources set to the same mirror the root's apt uses.
type hostRoot struct {
	t         *testing.T
	dir       string
	dpkg      string
	dpkgQuery string
}

func newHostRoot(t *testing.T) *hostRoot {
	t.Helper()
	dir := testfixture.DebianRoot(t, testfixture.RootSpec{})
	h := &hostRoot{t: t, dir: dir, dpkg: testfixture.Tool(t, "dpkg", "dpkg"), dpkgQuery: testfixture.Tool(t, "dpkg-query", "dpkg")}
	mirror := testfixture.DebianMirror(t, "bookworm")
	kr := filepath.Join(dir, "usr/share/keyrings/debian-archive-keyring.gpg")
	must(t, os.MkdirAll(filepath.Join(dir, "etc/grey"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "etc/grey/sources.list"),
		[]byte(fmt.Sprintf("deb [signed-by=%s] %s bookworm main\n", kr, mirror)), 0o644))
	// apt in the chroot resolves the mirror's name as the host does.
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		_ = os.Remove(filepath.Join(dir, "etc/resolv.conf"))
		must(t, os.WriteFile(filepath.Join(dir, "etc/resolv.conf"), b, 0o644))
	}
	return h
}

// grey runs grey on the root with the real clock (the live mirror's
// Release is valid now).
func (h *hostRoot) grey(args ...string) (int, string, string) {
	h.t.Helper()
	return greyAt(h.t, time.Now(), append([]string{"--root", h.dir}, args...)...)
}

func (h *hostRoot) mustGrey(args ...string) string {
	h.t.Helper()
	code, out, errOut := h.grey(args...)
	if code != 0 {
		h.t.Fatalf("grey %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// run runs a command and returns its combined output.
func (h *hostRoot) run(name string, args ...string) (string, error) {
	h.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// chroot runs a command inside the root (apt, apt-mark).
func (h *hostRoot) chroot(args ...string) (string, error) {
	h.t.Helper()
	return h.run("chroot", append([]string{h.dir}, args...)...)
}

func (h *hostRoot) status() []byte {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, "var/lib/dpkg/status"))
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func stanzas(t *testing.T, status []byte) map[string][]byte {
	t.Helper()
	es, err := dpkgdb.ParseStatus("status", status)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range es {
		out[e.Key()] = e.Raw
	}
	return out
}

// dpkgView is dpkg's own listing: "name:arch version state-abbrev" lines
// of every package dpkg knows, sorted.
func (h *hostRoot) dpkgView() []string {
	h.t.Helper()
	out, err := h.run(h.dpkgQuery, "--admindir="+filepath.Join(h.dir, "var/lib/dpkg"), "-W", "-f",
		"${Package}:${Architecture} ${Version} ${db:Status-Abbrev}\n")
	if err != nil {
		h.t.Fatalf("dpkg-query: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[2] != "un" && f[2] != "pn" {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	sort.Strings(lines)
	return lines
}

// greyView is grey list --installed in the same form.
func (h *hostRoot) greyView() []string {
	h.t.Helper()
	out := h.mustGrey("--json", "list", "--installed")
	var rows []struct {
		Name, Version, Architecture, Status string
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		h.t.Fatalf("list --installed: %v\n%s", err, out)
	}
	abbrev := map[string]string{"installed": "i", "config-files": "c", "half-installed": "H", "unpacked": "U",
		"half-configured": "F", "triggers-awaited": "W", "triggers-pending": "t", "not-installed": "n"}
	want := map[string]string{"install": "i", "hold": "h", "deinstall": "r", "purge": "p", "unknown": "u"}
	var lines []string
	for _, r := range rows {
		f := strings.Fields(r.Status)
		name, _, _ := strings.Cut(r.Name, ":")
		lines = append(lines, fmt.Sprintf("%s:%s %s %s%s", name, r.Architecture, r.Version, want[f[0]], abbrev[f[2]]))
	}
	sort.Strings(lines)
	return lines
}

func (h *hostRoot) showauto() (apt, grey string) {
	h.t.Helper()
	a, err := h.chroot("apt-mark", "showauto")
	if err != nil {
		h.t.Fatalf("apt-mark showauto: %v\n%s", err, a)
	}
	return a, h.mustGrey("mark", "showauto")
}

// checkSame fails unless dpkg, apt and grey agree on the root.
func (h *hostRoot) checkSame(step string) {
	h.t.Helper()
	if d, g := h.dpkgView(), h.greyView(); strings.Join(d, "\n") != strings.Join(g, "\n") {
		h.t.Fatalf("%s: dpkg and grey differ:\n%s", step, lineDiff(d, g))
	}
	if a, g := h.showauto(); a != g {
		h.t.Fatalf("%s: apt-mark showauto and grey mark showauto differ:\napt:\n%sgrey:\n%s", step, a, g)
	}
}

// checkHealthy runs dpkg --audit, dpkg --verify and apt-get check.
func (h *hostRoot) checkHealthy(step string) {
	h.t.Helper()
	if out, err := h.run(h.dpkg, "--root="+h.dir, "--audit"); err != nil || strings.TrimSpace(out) != "" {
		h.t.Errorf("%s: dpkg --audit: %v\n%s", step, err, out)
	}
	if out, err := h.run(h.dpkg, "--root="+h.dir, "--verify"); err != nil || strings.TrimSpace(out) != "" {
		h.t.Errorf("%s: dpkg --verify: %v\n%s", step, err, out)
	}
	if out, err := h.chroot("apt-get", "check"); err != nil {
		h.t.Errorf("%s: apt-get check: %v\n%s", step, err, out)
	}
}

func lineDiff(a, b []string) string {
	in := func(xs []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range xs {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, x := range a {
		if !mb[x] {
			fmt.Fprintf(&out, "- %s\n", x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			fmt.Fprintf(&out, "+ %s\n", x)
		}
	}
	return out.String()
}

// TestFullHostMinbaseAdoptInstallRemove is issue 11's first acceptance point
// on an mmdebstrap minbase root: grey adopts what dpkg installed (grey list
// --installed is dpkg's set), installs and removes beside it without
// reinstalling what dpkg installed, and every step leaves dpkg --audit
// empty, dpkg --verify clean, apt-get check passing and the status stanzas
// of untouched packages byte for byte as they were.
func TestFullHostMinbaseAdoptInstallRemove(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	orig := h.status()
	origStanzas := stanzas(t, orig)
	if len(origStanzas) < 80 {
		t.Fatalf("minbase root has %d packages", len(origStanzas))
	}
	h.checkSame("adopted")
	hist := h.mustGrey("history")
	if !strings.Contains(hist, "adopted from dpkg") {
		t.Errorf("history has no adoption entry:\n%s", hist)
	}
	h.mustGrey("update")

	// untouched checks the stanzas of every package but the changed ones.
	untouched := func(step string, changed ...string) {
		t.Helper()
		now := stanzas(t, h.status())
		skip := map[string]bool{}
		for _, c := range changed {
			skip[c] = true
		}
		for k, raw := range origStanzas {
			if skip[k] {
				continue
			}
			if !bytes.Equal(now[k], raw) {
				t.Errorf("%s: stanza of %s changed:\n%s\nwas:\n%s", step, k, now[k], raw)
			}
		}
	}

	out := h.mustGrey("-y", "--json", "install", "hello")
	var res struct {
		Plan struct {
			Install []struct{ Name string } `json:"install"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("install output: %v\n%s", err, out)
	}
	if len(res.Plan.Install) != 1 || res.Plan.Install[0].Name != "hello" {
		t.Fatalf("install hello on minbase plans %+v: libc6 and the rest are installed", res.Plan.Install)
	}
	h.checkSame("install hello")
	h.checkHealthy("install hello")
	untouched("install hello")
	if out, err := h.run(h.dpkg, "--root="+h.dir, "-S", "/bin/ls"); err != nil || !strings.HasPrefix(out, "coreutils:") {
		t.Errorf("dpkg -S /bin/ls after grey install: %v %s", err, out)
	}

	// Packages with maintainer scripts and alternatives.
	h.mustGrey("-y", "install", "nano")
	withNano := stanzas(t, h.status())
	h.checkSame("install nano")
	h.checkHealthy("install nano")
	untouched("install nano")

	h.mustGrey("-y", "remove", "hello")
	h.checkSame("remove hello")
	h.checkHealthy("remove hello")
	untouched("remove hello")

	t.Logf("upgrade:\n%s", h.mustGrey("-y", "upgrade"))
	t.Logf("autoremove:\n%s", h.mustGrey("-y", "autoremove"))
	h.checkSame("upgrade, autoremove")
	h.checkHealthy("upgrade, autoremove")

	h.mustGrey("-y", "remove", "--purge", "nano")
	h.checkSame("purge nano")
	h.checkHealthy("purge nano")
	untouched("purge nano")
	// What is left beyond the original stanzas is what nano pulled in
	// (libncursesw6, and libgpm2 which it recommends: autoremove keeps a
	// package another recommends, as apt does).
	for k := range stanzas(t, h.status()) {
		_, orig := origStanzas[k]
		_, pulled := withNano[k]
		if !orig && (!pulled || strings.HasPrefix(k, "nano:")) {
			t.Errorf("after purging nano, dpkg's status has %s", k)
		}
	}
}

// TestFullHostMarksAndHolds: apt-mark and grey mark agree both ways, and a
// hold set by either is honoured by grey.
func TestFullHostMarksAndHolds(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	h.mustGrey("update")
	h.mustGrey("-y", "install", "hello")
	h.mustGrey("mark", "auto", "hello")
	h.checkSame("grey mark auto")
	if out, _ := h.chroot("apt-mark", "showauto"); !strings.Contains(out, "hello\n") {
		t.Errorf("apt-mark showauto after grey mark auto:\n%s", out)
	}
	if out, err := h.chroot("apt-mark", "manual", "hello"); err != nil {
		t.Fatalf("apt-mark manual: %v\n%s", err, out)
	}
	h.checkSame("apt-mark manual")
	if out, err := h.chroot("apt-mark", "hold", "hello"); err != nil {
		t.Fatalf("apt-mark hold: %v\n%s", err, out)
	}
	if got := h.mustGrey("mark", "showhold"); got != "hello\n" {
		t.Errorf("grey mark showhold after apt-mark hold: %q", got)
	}
	if code, out, errOut := h.grey("-y", "remove", "hello"); code == 0 || !strings.Contains(out+errOut, "held") {
		t.Errorf("removing a held package by name went ahead or did not say why: %d\n%s%s", code, out, errOut)
	}
	h.mustGrey("mark", "unhold", "hello")
	if out, _ := h.chroot("apt-mark", "showhold"); strings.TrimSpace(out) != "" {
		t.Errorf("apt-mark showhold after grey mark unhold: %q", out)
	}
	h.mustGrey("mark", "hold", "hello")
	if out, _ := h.run(h.dpkg, "--root="+h.dir, "--get-selections", "hello"); !strings.Contains(out, "hold") {
		t.Errorf("dpkg --get-selections after grey mark hold: %q", out)
	}
	h.checkSame("grey mark hold")
	h.checkHealthy("marks")
}

// TestFullHostLocks: with apt holding dpkg's frontend lock grey waits, or
// fails at once naming the lock and apt's pid with --no-wait; with grey
// holding it apt-get refuses.
func TestFullHostLocks(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	// apt keeps lock-frontend through its Pre-Invoke hook: a sleep there
	// holds it while grey tries.
	marker := filepath.Join(h.dir, "tmp/apt-started")
	cmd := exec.Command("chroot", h.dir, "apt-get", "-y", "-o", "DPkg::Pre-Invoke::=touch /tmp/apt-started; sleep 3",
		"install", "--reinstall", "debianutils")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var aptOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &aptOut, &aptOut
	must(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("apt-get did not reach its Pre-Invoke hook:\n%s", aptOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out, errOut := h.grey("mark", "--no-wait", "manual", "dpkg")
	if code == 0 || !strings.Contains(errOut, "lock-frontend") || !strings.Contains(errOut, "locked by process") {
		t.Errorf("--no-wait with apt holding the lock: %d\n%s%s", code, out, errOut)
	}
	start := time.Now()
	code, out, errOut = h.grey("mark", "manual", "dpkg")
	if code != 0 || !strings.Contains(errOut, "waiting") {
		t.Errorf("grey did not wait for apt: %d\n%s%s", code, out, errOut)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apt-get: %v\n%s", err, aptOut.String())
	}
	t.Logf("grey waited %s for apt", time.Since(start).Round(time.Millisecond))

	// grey holds the locks: apt refuses.
	l, err := pkgdb.LockDpkg(context.Background(), h.dir, pkgdb.LockOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	out2, err := h.chroot("apt-get", "-y", "-o", "DPkg::Lock::Timeout=0", "install", "hello")
	l.Unlock()
	if err == nil || !strings.Contains(out2, "lock") {
		t.Errorf("apt-get install with grey holding dpkg's locks: %v\n%s", err, out2)
	}
	h.checkSame("locks")
}

// TestFullHostAlternateWithApt alternates apt-get (in a chroot of the root, from
// the same mirror) and grey at random for 30 steps and checks after each
// that dpkg -l, apt-mark showauto and grey agree.
func TestFullHostAlternateWithApt(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	h.mustGrey("update")
	pool := []string{"hello", "tree", "bc", "figlet", "jq", "nano", "less", "patch", "dos2unix", "file"}
	seed := time.Now().UnixNano()
	if s := os.Getenv("GREY_TEST_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (GREY_TEST_SEED reruns it)", seed)
	rng := rand.New(rand.NewSource(seed))
	for step := 0; step < 30; step++ {
		pkg := pool[rng.Intn(len(pool))]
		var desc string
		var err error
		var out string
		switch rng.Intn(8) {
		case 0:
			desc = "apt-get install " + pkg
			out, err = h.chroot("apt-get", "-y", "install", pkg)
		case 1:
			desc = "apt-get remove " + pkg
			out, err = h.chroot("apt-get", "-y", "remove", pkg)
		case 2:
			desc = "apt-get autoremove"
			out, err = h.chroot("apt-get", "-y", "autoremove")
		case 3, 4:
			desc = "grey install " + pkg
			code, o, e := h.grey("-y", "install", pkg)
			out = o + e
			if code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
		case 5:
			desc = "grey remove " + pkg
			code, o, e := h.grey("-y", "remove", pkg)
			out = o + e
			if code != 0 && !strings.Contains(e, "not installed") {
				err = fmt.Errorf("exit %d", code)
			}
		case 6:
			desc = "grey autoremove"
			code, o, e := h.grey("-y", "autoremove")
			out = o + e
			if code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
		case 7:
			mark := []string{"auto", "manual"}[rng.Intn(2)]
			if rng.Intn(2) == 0 {
				desc = "apt-mark " + mark + " " + pkg
				out, err = h.chroot("apt-mark", mark, pkg)
			} else {
				desc = "grey mark " + mark + " " + pkg
				code, o, e := h.grey("mark", mark, pkg)
				out = o + e
				if code != 0 && !strings.Contains(e, "not installed") {
					err = fmt.Errorf("exit %d", code)
				}
			}
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v\n%s", step, desc, err, out)
		}
		t.Logf("step %d: %s", step, desc)
		h.checkSame(fmt.Sprintf("step %d (%s)", step, desc))
		if out, err := h.run(h.dpkg, "--root="+h.dir, "--audit"); err != nil || strings.TrimSpace(out) != "" {
			t.Fatalf("step %d (%s): dpkg --audit: %v\n%s", step, desc, err, out)
		}
	}
	h.checkHealthy("after the alternation")
}

// TestFullHostRealUpgrade is issue 11's real upgrade: a root built from
// bookworm alone, then bookworm-updates and bookworm-security added; grey
// full-upgrade ends with the versions apt-get dist-upgrade gives on a copy,
// with scripts run and dpkg --audit empty.
func TestFullHostRealUpgrade(t *testing.T) {
	t.Parallel()
	h := newHostRoot(t)
	apt := &hostRoot{t: t, dir: t.TempDir(), dpkg: h.dpkg, dpkgQuery: h.dpkgQuery}
	if out, err := h.run("cp", "-a", h.dir+"/.", apt.dir); err != nil {
		t.Fatalf("copy the root: %v\n%s", err, out)
	}
	kr := filepath.Join(h.dir, "usr/share/keyrings/debian-archive-keyring.gpg")
	var greyLines, aptLines []string
	for _, s := range []string{"bookworm-updates", "bookworm-security"} {
		m := testfixture.DebianMirror(t, s)
		greyLines = append(greyLines, fmt.Sprintf("deb [signed-by=%s] %s %s main", kr, m, s))
		aptLines = append(aptLines, fmt.Sprintf("deb %s %s main", m, s))
	}
	appendFile := func(p string, lines []string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0o644)
		must(t, err)
		_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
		must(t, err)
		must(t, f.Close())
	}
	appendFile(filepath.Join(h.dir, "etc/grey/sources.list"), greyLines)
	appendFile(filepath.Join(apt.dir, "etc/apt/sources.list"), aptLines)

	h.mustGrey("update")
	out := h.mustGrey("-y", "full-upgrade")
	t.Logf("grey full-upgrade:\n%s", out)
	if o, err := apt.chroot("apt-get", "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, o)
	}
	if o, err := apt.chroot("apt-get", "-y", "dist-upgrade"); err != nil {
		t.Fatalf("apt-get dist-upgrade: %v\n%s", err, o)
	}
	g, a := h.dpkgView(), apt.dpkgView()
	if strings.Join(g, "\n") != strings.Join(a, "\n") {
		t.Errorf("grey full-upgrade (-) and apt-get dist-upgrade (+) differ:\n%s", lineDiff(g, a))
	}
	h.checkSame("full-upgrade")
	h.checkHealthy("full-upgrade")
}
