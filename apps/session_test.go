package apps

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/internal/testfixture"
)

// listenUnix makes a socket at p (its directory made first) that answers
// every line with "welcome".
func listenUnix(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					c.Write([]byte("welcome\n"))
				}
			}()
		}
	}()
}

// TestSessionArgs checks the bwrap arguments for the display and sound
// sockets, case by case, against fake sockets in a temporary directory:
// what exists is bound read-only into /run/user/UID (X11 into
// /tmp/.X11-unix), what does not is skipped and its variable unset.
func TestSessionArgs(t *testing.T) {
	dir := t.TempDir()
	rt := filepath.Join(dir, "rt") // the host's XDG_RUNTIME_DIR
	x11 := filepath.Join(dir, "x11")
	for _, p := range []string{"rt/wayland-0", "rt/wayland-1", "rt/pulse/native", "rt/pipewire-0", "x11/X0", "other/native", "abs-wayland"} {
		listenUnix(t, filepath.Join(dir, p))
	}
	xauth := filepath.Join(dir, "xauth")
	if err := os.WriteFile(xauth, []byte("cookie"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rt, "not-a-socket"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	const in = "/run/user/1000"
	base := []string{"--perms", "0700", "--dir", in, "--setenv", "XDG_RUNTIME_DIR", in}
	var (
		wl0      = []string{"--ro-bind", rt + "/wayland-0", in + "/wayland-0", "--setenv", "WAYLAND_DISPLAY", "wayland-0"}
		wl1      = []string{"--ro-bind", rt + "/wayland-1", in + "/wayland-1", "--setenv", "WAYLAND_DISPLAY", "wayland-1"}
		noWL     = []string{"--unsetenv", "WAYLAND_DISPLAY"}
		x0       = []string{"--ro-bind", x11 + "/X0", "/tmp/.X11-unix/X0"}
		xa       = []string{"--ro-bind", xauth, in + "/Xauthority", "--setenv", "XAUTHORITY", in + "/Xauthority"}
		noX      = []string{"--unsetenv", "DISPLAY", "--unsetenv", "XAUTHORITY"}
		pulse    = []string{"--ro-bind", rt + "/pulse/native", in + "/pulse/native", "--setenv", "PULSE_SERVER", "unix:" + in + "/pulse/native"}
		noPulse  = []string{"--unsetenv", "PULSE_SERVER"}
		pipewire = []string{"--ro-bind", rt + "/pipewire-0", in + "/pipewire-0"}
	)
	display := func(d string) []string { return []string{"--setenv", "DISPLAY", d} }
	cat := func(parts ...[]string) []string { return slices.Concat(append([][]string{base}, parts...)...) }
	for _, tc := range []struct {
		name               string
		env                []string
		noDisplay, noSound bool
		want               []string
	}{
		{"nothing there", []string{"XDG_RUNTIME_DIR=" + empty, "WAYLAND_DISPLAY=wayland-0", "PULSE_SERVER="}, false, false,
			cat(noWL, noX, noPulse)},
		{"no XDG_RUNTIME_DIR: /run/user/UID, where nothing is", nil, false, false,
			cat(noWL, noX, noPulse)},
		{"everything", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-1", "DISPLAY=:0", "XAUTHORITY=" + xauth, "HOME=/home/u"}, false, false,
			cat(wl1, x0, display(":0"), xa, pulse, pipewire)},
		{"wayland-0 by default", []string{"XDG_RUNTIME_DIR=" + rt}, false, false,
			cat(wl0, noX, pulse, pipewire)},
		{"wayland socket by absolute path", []string{"XDG_RUNTIME_DIR=" + empty, "WAYLAND_DISPLAY=" + dir + "/abs-wayland"}, false, false,
			cat([]string{"--ro-bind", dir + "/abs-wayland", in + "/wayland-0", "--setenv", "WAYLAND_DISPLAY", "wayland-0"}, noX, noPulse)},
		{"wayland socket missing", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-9"}, false, false,
			cat(noWL, noX, pulse, pipewire)},
		{"wayland display not a socket", []string{"XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=not-a-socket"}, false, false,
			cat(noWL, noX, pulse, pipewire)},
		{"x11 with a screen", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=:0.0", "WAYLAND_DISPLAY=none"}, false, false,
			cat(noWL, x0, display(":0.0"), noPulse)},
		{"x11 unix:0", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=unix:0"}, false, false,
			cat(noWL, x0, display("unix:0"), noPulse)},
		{"x11 socket missing: DISPLAY kept", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=:5"}, false, false,
			cat(noWL, display(":5"), noPulse)},
		{"x11 over tcp: DISPLAY kept", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=host.example:10.0"}, false, false,
			cat(noWL, display("host.example:10.0"), noPulse)},
		{"x11 display not a display", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=nonsense", "XAUTHORITY=" + xauth}, false, false,
			cat(noWL, noX, noPulse)},
		{"x11 display without a number", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=:x"}, false, false,
			cat(noWL, noX, noPulse)},
		{"xauthority missing", []string{"XDG_RUNTIME_DIR=" + empty, "DISPLAY=:0", "XAUTHORITY=" + dir + "/none"}, false, false,
			cat(noWL, x0, display(":0"), []string{"--unsetenv", "XAUTHORITY"}, noPulse)},
		{"pulse at PULSE_SERVER's path", []string{"XDG_RUNTIME_DIR=" + empty, "PULSE_SERVER=unix:" + dir + "/other/native"}, false, false,
			cat(noWL, noX, []string{"--ro-bind", dir + "/other/native", in + "/pulse/native", "--setenv", "PULSE_SERVER", "unix:" + in + "/pulse/native"})},
		{"pulse at PULSE_SERVER missing", []string{"XDG_RUNTIME_DIR=" + rt, "PULSE_SERVER=unix:" + dir + "/none", "WAYLAND_DISPLAY=x"}, false, false,
			cat(noWL, noX, noPulse, pipewire)},
		{"pulse over tcp: PULSE_SERVER kept", []string{"XDG_RUNTIME_DIR=" + empty, "PULSE_SERVER=tcp:localhost:4713"}, false, false,
			cat(noWL, noX)},
		{"no display", []string{"XDG_RUNTIME_DIR=" + rt, "DISPLAY=:0", "XAUTHORITY=" + xauth}, true, false,
			cat(noWL, noX, pulse, pipewire)},
		{"no sound", []string{"XDG_RUNTIME_DIR=" + rt, "DISPLAY=:0"}, false, true,
			cat(wl0, x0, display(":0"), noPulse)},
		{"no display, no sound", []string{"XDG_RUNTIME_DIR=" + rt, "DISPLAY=:0", "PULSE_SERVER=tcp:h"}, true, true,
			cat(noWL, noX, noPulse)},
		{"later value wins", []string{"XDG_RUNTIME_DIR=" + empty, "XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-9", "WAYLAND_DISPLAY=wayland-1"}, true, true,
			cat(noWL, noX, noPulse)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := session{env: envMap(tc.env), uid: 1000, x11Dir: x11, noDisplay: tc.noDisplay, noSound: tc.noSound}
			if tc.env == nil {
				s.uid = 4242 // no /run/user/4242 on the host
			}
			want := tc.want
			if tc.env == nil {
				want = slices.Clone(want)
				for i, a := range want {
					want[i] = strings.ReplaceAll(a, in, "/run/user/4242")
				}
			}
			if got := sessionArgs(s); !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestParseX11Display(t *testing.T) {
	for _, tc := range []struct {
		in        string
		n         string
		local, ok bool
	}{
		{":0", "0", true, true},
		{":12.1", "12", true, true},
		{"unix:3", "3", true, true},
		{"localhost:10.0", "10", false, true},
		{"[::1]:2", "2", false, true},
		{"", "", false, false},
		{"nonsense", "", false, false},
		{":", "", false, false},
		{":x", "", false, false},
		{":1x", "", false, false},
	} {
		n, local, ok := parseX11Display(tc.in)
		if n != tc.n || local != tc.local || ok != tc.ok {
			t.Errorf("parseX11Display(%q) = %q %t %t, want %q %t %t", tc.in, n, local, ok, tc.n, tc.local, tc.ok)
		}
	}
}

// probeSource is a static program for the app root: for each argument
// PATH it prints whether PATH is a socket inside the sandbox and what a
// line sent to it gets back; then the mode of $XDG_RUNTIME_DIR and the
// session variables it sees.
const probeSource = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

func main() {
	for _, p := range os.Args[1:] {
		p = os.ExpandEnv(p)
		fi, err := os.Stat(p)
		reply := "-"
		if c, err := net.Dial("unix", p); err == nil {
			fmt.Fprintln(c, "hello")
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				reply = strings.TrimSpace(line)
			}
			c.Close()
		}
		fmt.Printf("%s socket=%t reply=%s\n", p, err == nil && fi.Mode()&os.ModeSocket != 0, reply)
	}
	if fi, err := os.Stat(os.Getenv("XDG_RUNTIME_DIR")); err == nil {
		fmt.Printf("runtime dir %v\n", fi.Mode())
	}
	for _, k := range []string{"XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "DISPLAY", "PULSE_SERVER"} {
		fmt.Printf("%s=%s\n", k, os.Getenv(k))
	}
}
`

// buildProbe compiles probeSource statically and packs it as the
// package probe, /usr/bin/probe.
func buildProbe(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(probeSource), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(tree, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", filepath.Join(tree, "usr/bin/probe"), "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=on")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build probe: %v\n%s", err, out)
	}
	control := "Package: probe\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "probe_1.0_all.deb")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := archive.Build(context.Background(), tree, f, archive.BuildOptions{Compression: compress.Gzip}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunBindsSessionSockets runs a program under bubblewrap in an app
// root with a fake Wayland, X11 and PulseAudio server on the host: each
// socket is at its place inside ($XDG_RUNTIME_DIR/wayland-0,
// /tmp/.X11-unix/X7, $XDG_RUNTIME_DIR/pulse/native) and answers through
// the read-only bind, and the runtime directory has mode 0700; with
// NoDisplay and NoSound none is there and the variables are unset.
func TestRunBindsSessionSockets(t *testing.T) {
	bwrap := testfixture.Tool(t, "bwrap", "bubblewrap")
	deb := buildProbe(t)
	a := Open(filepath.Join(t.TempDir(), "apps"))
	if _, err := a.Install(context.Background(), "probe", InstallOptions{Local: []string{deb}}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "grey-session-") // short: socket paths are at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	rt, x11 := filepath.Join(dir, "rt"), filepath.Join(dir, "x11")
	listenUnix(t, filepath.Join(rt, "wayland-0"))
	listenUnix(t, filepath.Join(rt, "pulse", "native"))
	listenUnix(t, filepath.Join(x11, "X7"))
	env := []string{"PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=" + rt, "WAYLAND_DISPLAY=wayland-0", "DISPLAY=:7"}
	in := "/run/user/" + strconv.Itoa(os.Getuid())
	paths := []string{"$XDG_RUNTIME_DIR/wayland-0", "/tmp/.X11-unix/X7", in + "/pulse/native"}
	for _, tc := range []struct {
		name               string
		noDisplay, noSound bool
		want               string
	}{
		{"bound", false, false, in + "/wayland-0 socket=true reply=welcome\n" +
			"/tmp/.X11-unix/X7 socket=true reply=welcome\n" +
			in + "/pulse/native socket=true reply=welcome\n" +
			"runtime dir drwx------\n" +
			"XDG_RUNTIME_DIR=" + in + "\nWAYLAND_DISPLAY=wayland-0\nDISPLAY=:7\nPULSE_SERVER=unix:" + in + "/pulse/native\n"},
		{"no display, no sound", true, true, in + "/wayland-0 socket=false reply=-\n" +
			"/tmp/.X11-unix/X7 socket=false reply=-\n" +
			in + "/pulse/native socket=false reply=-\n" +
			"runtime dir drwx------\n" +
			"XDG_RUNTIME_DIR=" + in + "\nWAYLAND_DISPLAY=\nDISPLAY=\nPULSE_SERVER=\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := a.RunCommand("probe", RunOptions{
				Command: "probe", Args: paths, Bwrap: bwrap, Env: env, x11Dir: x11,
				NoDisplay: tc.noDisplay, NoSound: tc.noSound,
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
			}
			if string(out) != tc.want {
				t.Errorf("inside the sandbox:\n%s\nwant:\n%s", out, tc.want)
			}
		})
	}
}

// FuzzSessionArgs: no environment makes sessionArgs panic or bind
// anything outside the runtime directory and /tmp/.X11-unix, and
// parseX11Display only returns display numbers of digits.
func FuzzSessionArgs(f *testing.F) {
	f.Add("wayland-0", ":0", "unix:/run/user/1000/pulse/native", "/home/u/.Xauthority")
	f.Add("/run/user/1000/wayland-1", "localhost:10.0", "tcp:h:4713", "")
	f.Add("wayland-../../etc", "unix:1.2", "unix:relative", "/etc/passwd")
	f.Add("", "[::1]:3", "", "")
	// Real sockets for the values to find (the seeds name them too).
	dir, err := os.MkdirTemp("", "grey-fuzz-")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	for _, p := range []string{"rt/wayland-0", "rt/wayland-1", "rt/pulse/native", "rt/pipewire-0", "x11/X0", "x11/X1"} {
		listenUnix(f, filepath.Join(dir, p))
	}
	if err := os.WriteFile(filepath.Join(dir, "xauth"), nil, 0o600); err != nil {
		f.Fatal(err)
	}
	f.Add(dir+"/rt/wayland-1", "unix:1", "unix:"+dir+"/rt/pulse/native", dir+"/xauth")
	f.Add("wayland-1", ":0.0", "unix:"+dir+"/rt/../rt/pulse/native", dir+"/rt/../xauth")
	f.Fuzz(func(t *testing.T, wayland, display, pulse, xauth string) {
		if n, _, ok := parseX11Display(display); ok && (n == "" || strings.Trim(n, "0123456789") != "") {
			t.Fatalf("parseX11Display(%q) = %q", display, n)
		}
		env := []string{"XDG_RUNTIME_DIR=" + dir + "/rt", "WAYLAND_DISPLAY=" + wayland, "DISPLAY=" + display, "PULSE_SERVER=" + pulse, "XAUTHORITY=" + xauth}
		args := sessionArgs(session{env: envMap(env), uid: 1000, x11Dir: dir + "/x11"})
		for i, a := range args {
			if a != "--ro-bind" {
				continue
			}
			if i+2 >= len(args) {
				t.Fatalf("truncated --ro-bind in %q", args)
			}
			dst := args[i+2]
			if path.Clean(dst) != dst || !strings.HasPrefix(dst, "/run/user/1000/") && !strings.HasPrefix(dst, "/tmp/.X11-unix/X") {
				t.Fatalf("binds to %q: %q", dst, args)
			}
		}
	})
}
