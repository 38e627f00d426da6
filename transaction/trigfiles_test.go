package transaction

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// triggerFiles returns dpkg's interest files under root's
// var/lib/dpkg/triggers (File and one file per trigger name; not the
// Lock or the Unincorp queue), name -> content.
func triggerFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	dir := filepath.Join(root, "var/lib/dpkg/triggers")
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		switch e.Name() {
		case "Lock", "Unincorp":
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// dpkg writes the lines in its hash order: compare them sorted.
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		sort.Strings(lines)
		out[e.Name()] = strings.Join(lines, "\n")
	}
	return out
}

// TestTriggerInterestFilesAgainstDpkg: grey writes dpkg's interest index
// (triggers/File for file triggers, triggers/NAME for named ones, with
// "/noawait" for interest-noawait) from its packages' triggers files, as
// dpkg writes it, through install, upgrade, removal and purge; and the
// real dpkg run later in grey's root processes the triggers grey's
// packages declared interest in.
func TestTriggerInterestFilesAgainstDpkg(t *testing.T) {
	tw := newTwin(t)
	dir := t.TempDir()
	logged := func(name string) map[string]string {
		s := map[string]string{}
		for _, n := range []string{"postinst", "postrm"} {
			s[n] = "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_PACKAGE " + n + " $*\" >> /var/tmp/calls\n"
		}
		return s
	}
	watch := func(version, trig string) string {
		s := logged("tgwatch")
		s["triggers"] = trig
		return tpkg{name: "tgwatch", version: version, scripts: s, files: []tentry{{name: "./usr/", typ: 'd'},
			{name: "./usr/share/", typ: 'd'}, {name: "./usr/share/tgwatch/", typ: 'd'}, {name: "./usr/share/tgwatch/watch", body: version + "\n"}}}.build(t, dir)
	}
	w1 := watch("1", "interest tg-name\ninterest-noawait tg-quiet\ninterest /usr/share/tgwatch\ninterest-noawait /usr/lib/tgx\ninterest-await tg-both\n")
	w2 := watch("2", "interest-noawait tg-name\ninterest /usr/share/tgwatch\n")
	s := logged("tgsame")
	s["triggers"] = "interest tg-name\ninterest tg-both\ninterest /usr/share/tgwatch\n"
	same := tpkg{name: "tgsame", version: "1", extra: "Multi-Arch: same\n", scripts: s,
		files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/tgsame", body: "x\n"}}}.build(t, dir)
	feeder := tpkg{name: "tgfeed", version: "1", files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'},
		{name: "./usr/share/tgwatch/", typ: 'd'}, {name: "./usr/share/tgwatch/feed", body: "x\n"}}}.build(t, dir)
	names := []string{"tgwatch", "tgsame:amd64", "tgfeed"}
	step := func(name string, dpkgArgs []string, plan Plan) {
		t.Helper()
		if out, err := tw.runDpkg(t, dpkgArgs...); err != nil {
			t.Fatalf("%s: dpkg: %v\n%s", name, err, out)
		}
		if _, err := apply(t, tw.r, plan, Options{}); err != nil {
			t.Fatalf("%s: grey: %v", name, err)
		}
		if g, d := triggerFiles(t, tw.grey), triggerFiles(t, tw.dpkg); !mapsEqual(g, d) {
			t.Errorf("%s: triggers/\ngrey: %q\ndpkg: %q", name, g, d)
		}
		tw.compare(t, name, names)
	}
	step("install the watchers", []string{"-i", w1, same}, Plan{Install: []Install{{Path: w1}, {Path: same}}})
	step("upgrade a watcher", []string{"-i", w2}, Plan{Install: []Install{{Path: w2}}})
	step("remove a watcher", []string{"-r", "tgwatch"}, Plan{Remove: []Remove{{Name: "tgwatch"}}})
	step("install it again", []string{"-i", w1}, Plan{Install: []Install{{Path: w1}}})
	step("purge the other", []string{"-P", "tgsame"}, Plan{Remove: []Remove{{Name: "tgsame", Purge: true}}})

	// The real dpkg, run in grey's root, knows grey's interests: a file
	// under /usr/share/tgwatch triggers tgwatch.
	tw.r.Close()
	for _, root := range []string{tw.grey, tw.dpkg} {
		out, err := exec.Command(tw.dpkgBin, "--root="+root, "--force-bad-path", "-i", feeder).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg -i in %s: %v\n%s", root, err, out)
		}
	}
	g, d := calls(t, tw.grey), calls(t, tw.dpkg)
	if g["tgwatch"] == "" || g["tgwatch"] != d["tgwatch"] {
		t.Errorf("dpkg in grey's root: calls %q, in dpkg's root %q", g, d)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
