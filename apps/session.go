package apps

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// session says which of the user's display and sound servers an app
// reaches: what the environment it is started from names, as Flatpak's
// --socket=wayland, x11 and pulseaudio do. Every value comes from the
// caller, so the bwrap arguments are a function of them (sessionArgs).
type session struct {
	// env is the environment the app is started from.
	env map[string]string
	// uid is the user the app runs as: its runtime directory inside is
	// /run/user/UID.
	uid int
	// x11Dir is where X11 sockets are looked for on the host ("" =
	// /tmp/.X11-unix); inside they are always in /tmp/.X11-unix.
	x11Dir string
	// noDisplay and noSound leave out the Wayland and X11 sockets, and
	// the PulseAudio and PipeWire sockets.
	noDisplay, noSound bool
}

// envMap turns KEY=VALUE lines into a map; a later line wins, as in
// os/exec.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// isSocket reports whether p is (or links to) a socket.
func isSocket(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&os.ModeSocket != 0
}

// sessionArgs returns the bwrap arguments that give the app a runtime
// directory (/run/user/UID, mode 0700, XDG_RUNTIME_DIR) and bind into
// it, read-only, the display and sound sockets that exist:
//
//   - Wayland: $WAYLAND_DISPLAY (default wayland-0; an absolute path is
//     the socket itself) in the host's $XDG_RUNTIME_DIR, as
//     RUNTIME/wayland-N, with WAYLAND_DISPLAY set to that name (a name
//     not of the form wayland-* becomes wayland-0, as in Flatpak).
//   - X11: for DISPLAY=:N (or unix:N, :N.S), /tmp/.X11-unix/XN at the
//     same path; DISPLAY is kept as given (the network namespace is the
//     host's, so a TCP or abstract-socket display is reached anyway);
//     the file $XAUTHORITY names as RUNTIME/Xauthority, XAUTHORITY set.
//   - PulseAudio: $PULSE_SERVER's unix: path, else
//     $XDG_RUNTIME_DIR/pulse/native, as RUNTIME/pulse/native with
//     PULSE_SERVER=unix:RUNTIME/pulse/native (a PULSE_SERVER that is
//     not a unix: path is kept as it is).
//   - PipeWire: $XDG_RUNTIME_DIR/pipewire-0 as RUNTIME/pipewire-0.
//
// The host's runtime directory is /run/user/UID when XDG_RUNTIME_DIR is
// unset, as in Flatpak. A socket that does not exist is skipped, and the
// variable that would name it is unset inside, so the app never looks
// for a server that is not there; noDisplay and noSound skip (and unset)
// theirs. These arguments must come after /tmp and /run are made
// tmpfs.
func sessionArgs(s session) []string {
	rt := "/run/user/" + strconv.Itoa(s.uid)
	hostRT := s.env["XDG_RUNTIME_DIR"]
	if hostRT == "" {
		hostRT = rt
	}
	args := []string{"--perms", "0700", "--dir", rt, "--setenv", "XDG_RUNTIME_DIR", rt}
	bind := func(src, dst string) { args = append(args, "--ro-bind", src, dst) }
	setenv := func(k, v string) { args = append(args, "--setenv", k, v) }
	unsetenv := func(k string) { args = append(args, "--unsetenv", k) }

	// Wayland.
	wayland := false
	if !s.noDisplay {
		wd := s.env["WAYLAND_DISPLAY"]
		if wd == "" {
			wd = "wayland-0"
		}
		src := wd
		if !filepath.IsAbs(wd) {
			src = filepath.Join(hostRT, wd)
		}
		name := wd
		if !strings.HasPrefix(wd, "wayland-") || strings.Contains(wd, "/") {
			name = "wayland-0"
		}
		if isSocket(src) {
			bind(src, path.Join(rt, name))
			setenv("WAYLAND_DISPLAY", name)
			wayland = true
		}
	}
	if !wayland {
		unsetenv("WAYLAND_DISPLAY")
	}

	// X11.
	display := s.env["DISPLAY"]
	if n, local, ok := parseX11Display(display); !s.noDisplay && ok {
		if local {
			dir := s.x11Dir
			if dir == "" {
				dir = "/tmp/.X11-unix"
			}
			if src := filepath.Join(dir, "X"+n); isSocket(src) {
				bind(src, "/tmp/.X11-unix/X"+n)
			}
		}
		setenv("DISPLAY", display)
		if xa := s.env["XAUTHORITY"]; xa != "" {
			if fi, err := os.Stat(xa); err == nil && fi.Mode().IsRegular() {
				bind(xa, path.Join(rt, "Xauthority"))
				setenv("XAUTHORITY", path.Join(rt, "Xauthority"))
			} else {
				unsetenv("XAUTHORITY")
			}
		}
	} else {
		unsetenv("DISPLAY")
		unsetenv("XAUTHORITY")
	}

	// PulseAudio and PipeWire.
	if s.noSound {
		unsetenv("PULSE_SERVER")
		return args
	}
	src := filepath.Join(hostRT, "pulse", "native")
	if ps := s.env["PULSE_SERVER"]; ps != "" {
		src = ""
		if p, ok := strings.CutPrefix(ps, "unix:"); ok && filepath.IsAbs(p) {
			src = p
		}
	}
	switch {
	case src != "" && isSocket(src):
		bind(src, path.Join(rt, "pulse", "native"))
		setenv("PULSE_SERVER", "unix:"+path.Join(rt, "pulse", "native"))
	case src != "" || s.env["PULSE_SERVER"] == "":
		unsetenv("PULSE_SERVER")
	}
	if pw := filepath.Join(hostRT, "pipewire-0"); isSocket(pw) {
		bind(pw, path.Join(rt, "pipewire-0"))
	}
	return args
}

// parseX11Display reads an X11 DISPLAY value: the display number, and
// whether it is a local one (":N", "unix:N", with an optional ".SCREEN"),
// whose socket is /tmp/.X11-unix/XN. ok is false for a value that is
// not a display (no colon followed by a number).
func parseX11Display(d string) (n string, local, ok bool) {
	i := strings.LastIndexByte(d, ':')
	if i < 0 {
		return "", false, false
	}
	host, rest := d[:i], d[i+1:]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	if end == 0 || end < len(rest) && rest[end] != '.' {
		return "", false, false
	}
	return rest[:end], host == "" || host == "unix", true
}
