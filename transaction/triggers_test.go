package transaction

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTriggers checks dpkg's trigger processing: a package interested in a
// path, or in a name another package activates, has its postinst called
// with "triggered" and the names that fired, after the transaction's own
// configure steps; never for a package the transaction itself changes, and
// never with NoScripts.
func TestTriggers(t *testing.T) {
	root, r := shellRoot(t)
	dir := t.TempDir()
	logf := filepath.Join(root, "var/log/watcher.log")
	if err := os.MkdirAll(filepath.Dir(logf), 0o755); err != nil {
		t.Fatal(err)
	}
	watcher := func(version string) string {
		return tpkg{name: "watcher", version: version, scripts: map[string]string{
			"postinst": "#!/bin/sh\necho \"$*\" >> /var/log/watcher.log\n",
			"triggers": "# as dh_installdeb writes it\ninterest /usr/share/watched\ninterest-noawait ping\n",
		}, files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/watched/", typ: 'd'}}}.build(t, dir)
	}
	files := func(names ...string) []tentry {
		out := []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}}
		for _, n := range names {
			if n[len(n)-1] == '/' {
				out = append(out, tentry{name: n, typ: 'd'})
			} else {
				out = append(out, tentry{name: n, body: n + "\n"})
			}
		}
		return out
	}
	lib1 := tpkg{name: "lib1", version: "1", files: files("./usr/share/watched/", "./usr/share/watched/lib1")}.build(t, dir)
	lib2 := tpkg{name: "lib2", version: "1", files: files("./usr/share/watched/", "./usr/share/watched/lib2")}.build(t, dir)
	pinger := tpkg{name: "pinger", version: "1", scripts: map[string]string{"triggers": "activate-noawait ping\n"},
		files: files("./usr/share/pinger")}.build(t, dir)
	bystander := tpkg{name: "bystander", version: "1", files: files("./usr/share/watchedness")}.build(t, dir)

	for i, s := range []struct {
		name string
		plan Plan
		opts Options
		log  string
	}{
		{"the watcher itself: configured, not triggered", Plan{Install: []Install{{Path: watcher("1")}}}, Options{}, "configure \n"},
		{"a file under the watched path", Plan{Install: []Install{{Path: lib1}}}, Options{}, "triggered /usr/share/watched\n"},
		{"an activate directive", Plan{Install: []Install{{Path: pinger}}}, Options{}, "triggered ping\n"},
		{"a path that only shares a prefix", Plan{Install: []Install{{Path: bystander}}}, Options{}, ""},
		{"removing watched files", Plan{Remove: []Remove{{Name: "lib1"}}}, Options{}, "triggered /usr/share/watched\n"},
		{"removing an activating package", Plan{Remove: []Remove{{Name: "pinger"}}}, Options{}, "triggered ping\n"},
		{"no scripts, no triggers", Plan{Install: []Install{{Path: lib1}}}, Options{NoScripts: true}, ""},
		{"changed with the watcher: its configure covers it", Plan{Install: []Install{{Path: lib2}, {Path: watcher("2")}}}, Options{}, "configure 1\n"},
	} {
		_ = os.Remove(logf)
		if _, err := apply(t, r, s.plan, s.opts); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.name, err)
		}
		got, err := os.ReadFile(logf)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if string(got) != s.log {
			t.Errorf("step %d (%s): postinst calls %q, want %q", i, s.name, got, s.log)
		}
	}
}
