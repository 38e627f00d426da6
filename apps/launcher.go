package apps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A launcher is a shell script in a bin directory that runs an app:
// "exec GREY --root ROOT app run --apps-dir DIR NAME -- "$@"". Its second
// line marks it as grey's, so that grey overwrites or deletes only the
// files it wrote. The app directory's launchers file lists where they
// are, for Remove.

// launcherMark starts the second line of every launcher grey writes.
const launcherMark = "# grey app launcher: "

// Launcher says what a launcher runs.
type Launcher struct {
	// Grey is the absolute path of the grey program the script runs.
	Grey string
	// Root and AppsDir are the --root and --apps-dir it passes (AppsDir
	// inside Root, as the command line takes it).
	Root, AppsDir string
}

// NotLauncherError is a file in the way of a launcher that grey did not
// write.
type NotLauncherError struct{ Path string }

func (e *NotLauncherError) Error() string {
	return fmt.Sprintf("%s exists and is not a grey app launcher: not overwritten (remove it, or give another --bin-dir)", e.Path)
}

// shellQuote quotes s for sh in single quotes.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// launcherScript is the text of name's launcher.
func launcherScript(name string, l Launcher) []byte {
	return fmt.Appendf(nil, "#!/bin/sh\n%s%s (written by grey app export; grey app remove %s deletes it)\nexec %s --root %s app run --apps-dir %s %s -- \"$@\"\n",
		launcherMark, name, name, shellQuote(l.Grey), shellQuote(l.Root), shellQuote(l.AppsDir), shellQuote(name))
}

// isLauncher reports whether the file at p is a launcher grey wrote for
// app name (a regular file whose second line is grey's mark for name).
func isLauncher(p, name string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > 4096 {
		return false, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false, err
	}
	lines := bytes.SplitN(b, []byte("\n"), 3)
	return len(lines) >= 2 && string(lines[0]) == "#!/bin/sh" &&
		strings.HasPrefix(string(lines[1]), launcherMark+name+" "), nil
}

// WriteLauncher writes the launcher of app name into binDir (made when
// missing) as binDir/NAME, mode 0755, replacing only a launcher grey
// wrote for name (any other file there is a *NotLauncherError). It
// records the path in the app's launchers file when the app directory
// is writable (recorded reports whether it did), for Remove.
func (a *Apps) WriteLauncher(name, binDir string, l Launcher) (path string, recorded bool, err error) {
	if err := checkName(name); err != nil {
		return "", false, err
	}
	if _, err := a.Current(name); err != nil {
		return "", false, err
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return "", false, err
	}
	path = filepath.Join(binDir, name)
	if ok, err := isLauncher(path, name); err == nil && !ok {
		return "", false, &NotLauncherError{Path: path}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", false, err
	}
	tmp, err := os.CreateTemp(binDir, ".grey-launcher-*")
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(launcherScript(name, l))
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("write launcher %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", false, fmt.Errorf("write launcher %s: %w", path, err)
	}
	// The record is best effort: another user's launcher for an app
	// root installed cannot be written into root's app directory.
	unlock, err := a.lock(name)
	if err != nil {
		return path, false, nil
	}
	defer unlock()
	paths, _ := a.launchers(name)
	if !slices.Contains(paths, path) {
		paths = append(paths, path)
	}
	if err := writeJSON(a.launchersFile(name), paths); err != nil {
		return path, false, nil
	}
	return path, true, nil
}

func (a *Apps) launchersFile(name string) string {
	return filepath.Join(a.appDir(name), "launchers.json")
}

// launchers returns the launcher paths recorded for name.
func (a *Apps) launchers(name string) ([]string, error) {
	b, err := os.ReadFile(a.launchersFile(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var paths []string
	if err := json.Unmarshal(b, &paths); err != nil {
		return nil, fmt.Errorf("%s: %w", a.launchersFile(name), err)
	}
	return paths, nil
}

// removeLaunchers deletes the launchers recorded for name that are still
// grey's launchers for it (a file replaced since stays), and returns the
// paths it deleted.
func (a *Apps) removeLaunchers(name string) ([]string, error) {
	paths, err := a.launchers(name)
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, p := range paths {
		if ok, err := isLauncher(p, name); err != nil || !ok {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return gone, fmt.Errorf("remove launcher %s: %w", p, err)
		}
		gone = append(gone, p)
	}
	return gone, nil
}
