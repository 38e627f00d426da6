package transaction

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/resolver"
)

// twin is a pair of roots that start identical: grey works in one, the
// real dpkg in the other, and the test compares what each leaves.
type twin struct {
	grey, dpkg string
	r          *Root
	dpkgBin    string
}

func newTwin(t *testing.T) *twin {
	t.Helper()
	root, r := shellRoot(t)
	return twinOf(t, root, r)
}

// twinOf makes the dpkg twin of root, opened as r.
func twinOf(t *testing.T, root string, r *Root) *twin {
	t.Helper()
	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	other := t.TempDir()
	if out, err := exec.Command("cp", "-a", root+"/.", other).CombinedOutput(); err != nil {
		t.Fatalf("copy the root: %v %s", err, out)
	}
	for _, d := range []string{root, other} {
		if err := os.MkdirAll(filepath.Join(d, "var/tmp"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &twin{grey: root, dpkg: other, r: r, dpkgBin: dpkg}
}

// runDpkg runs the real dpkg on the dpkg root; its error says whether it
// exited non-zero.
func (tw *twin) runDpkg(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tw.dpkgBin, append([]string{"--root=" + tw.dpkg, "--force-bad-path"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// audit runs the real dpkg --audit on root.
func (tw *twin) audit(t *testing.T, root string) string {
	t.Helper()
	out, _ := exec.Command(tw.dpkgBin, "--root="+root, "--audit").CombinedOutput()
	return string(out)
}

// both does the same to both roots (a flag file scripts look at).
func (tw *twin) both(t *testing.T, f func(root string)) {
	f(tw.grey)
	f(tw.dpkg)
}

// statusOf returns, for each named package in root's dpkg status, its
// Status, Version and Config-Version; a name "pkg:arch" names one
// instance.
func statusOf(t *testing.T, root string, names []string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := control.ParseAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]string{}
	for _, s := range stanzas {
		for _, n := range []string{s.Get("Package"), s.Get("Package") + ":" + s.Get("Architecture")} {
			if want[n] {
				out[n] = fmt.Sprintf("%s | %s | %s", s.Get("Status"), s.Get("Version"), s.Get("Config-Version"))
			}
		}
	}
	return out
}

// infoFiles lists root's info files of the named packages.
func infoFiles(t *testing.T, root string, names []string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		m, _ := filepath.Glob(filepath.Join(root, "var/lib/dpkg/info", n+".*"))
		for _, p := range m {
			b, _ := os.ReadFile(p)
			if strings.HasSuffix(p, ".list") && len(b) > 0 {
				// grey's lists start with "/.", dpkg's only when the
				// package's tar has "./" (issue 11's business).
				b = bytes.TrimPrefix(b, []byte("/.\n"))
			}
			out = append(out, fmt.Sprintf("%s (%d bytes)", filepath.Base(p), len(b)))
		}
	}
	sort.Strings(out)
	return out
}

// calls returns the script calls logged in root's /var/tmp/calls, one
// sequence per package (dpkg and grey order different packages
// differently; each package's own sequence must match), and empties it.
func calls(t *testing.T, root string) map[string]string {
	t.Helper()
	p := filepath.Join(root, "var/tmp/calls")
	data, _ := os.ReadFile(p)
	_ = os.Remove(p)
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if l == "" {
			continue
		}
		pkg, _, _ := strings.Cut(l, " ")
		out[pkg] += l + "\n"
	}
	return out
}

// compare checks that both roots are alike: the named packages' states,
// their info files, the file tree (dpkg's and grey's own databases and
// logs aside), the script calls and dpkg --audit.
func (tw *twin) compare(t *testing.T, step string, names []string) {
	t.Helper()
	if g, d := statusOf(t, tw.grey, names), statusOf(t, tw.dpkg, names); fmt.Sprint(g) != fmt.Sprint(d) {
		t.Errorf("%s: status\ngrey: %v\ndpkg: %v", step, g, d)
	}
	if g, d := infoFiles(t, tw.grey, names), infoFiles(t, tw.dpkg, names); fmt.Sprint(g) != fmt.Sprint(d) {
		t.Errorf("%s: info files\ngrey: %v\ndpkg: %v", step, g, d)
	}
	if g, d := calls(t, tw.grey), calls(t, tw.dpkg); fmt.Sprint(g) != fmt.Sprint(d) {
		t.Errorf("%s: script calls\ngrey: %q\ndpkg: %q", step, g, d)
	}
	skip := []string{"var/lib/dpkg", "var/lib/grey", "var/log", "var/tmp", "var/cache"}
	if g, d := treeHash(t, tw.grey, skip...), treeHash(t, tw.dpkg, skip...); g != d {
		list := "find . -path ./var/lib/dpkg -prune -o -path ./var/lib/grey -prune -o -path ./var/log -prune -o -path ./var/tmp -prune -o -path ./var/cache -prune -o -printf '%p %M %s %l\\n' | sort"
		gl, _ := exec.Command("sh", "-c", "cd "+tw.grey+" && "+list).Output()
		dl, _ := exec.Command("sh", "-c", "cd "+tw.dpkg+" && "+list).Output()
		diff, _ := exec.Command("bash", "-c", "diff <(echo \"$1\") <(echo \"$2\")", "sh", string(gl), string(dl)).CombinedOutput()
		t.Errorf("%s: file trees differ (< grey, > dpkg):\n%s", step, diff)
	}
	d := tw.audit(t, tw.dpkg)
	// grey holds dpkg's lock while its root is open, and dpkg says so.
	g := strings.TrimPrefix(tw.audit(t, tw.grey), "Another process has locked the database for writing, and might currently be\nmodifying it, some of the following problems might just be due to that.\n\n")
	if g != d {
		t.Errorf("%s: dpkg --audit\ngrey root:\n%s\ndpkg root:\n%s", step, g, d)
	}
	probs, err := Audit(tw.r.DB, tw.grey)
	if err != nil {
		t.Fatal(err)
	}
	if g := FormatAudit(probs); g != d {
		t.Errorf("%s: grey's Audit\n%s\ndpkg --audit:\n%s", step, g, d)
	}
}

// lcPkg is a test package whose scripts log each call to /var/tmp/calls
// and fail where fail says: script -> the first argument it fails on
// (unless /var/tmp/ok-NAME exists).
func lcPkg(name, version, extra string, fail map[string]string) tpkg {
	scripts := map[string]string{}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		body := fmt.Sprintf("#!/bin/sh\necho \"%s %s $*\" >> /var/tmp/calls\n", name, s)
		if arg, ok := fail[s]; ok {
			body += fmt.Sprintf("if [ \"$1\" = %s ] && [ ! -e /var/tmp/ok-%s ]; then echo \"%s %s fails\" >&2; exit 1; fi\n", arg, name, name, s)
		}
		scripts[s] = body + "exit 0\n"
	}
	return tpkg{name: name, version: version, extra: extra, scripts: scripts, files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/" + name + "/", typ: 'd'},
		{name: "./usr/share/" + name + "/file", body: name + " " + version + "\n"},
	}}
}

// TestLifecycleAgainstDpkg runs failing maintainer scripts at every point
// in grey and, on a copy of the same root, in the real dpkg, and checks
// both leave the same states, files, script calls and dpkg --audit; then
// Configure against dpkg --configure --pending.
func TestLifecycleAgainstDpkg(t *testing.T) {
	tw := newTwin(t)
	dir := t.TempDir()
	names := []string{"pa", "pb", "pc", "pd", "pe", "ph", "pf", "pg", "pk"}
	debs := map[string]string{}
	for _, p := range []tpkg{
		lcPkg("pa", "1", "", map[string]string{"preinst": "install"}),
		lcPkg("pb", "1", "", map[string]string{"postinst": "configure"}),
		lcPkg("pc", "1", "Depends: pb\n", nil),
		lcPkg("pd", "1", "", map[string]string{"prerm": "remove"}),
		lcPkg("pe", "1", "", map[string]string{"postrm": "remove"}),
		lcPkg("ph", "1", "", map[string]string{"postrm": "purge"}),
		lcPkg("pf", "1", "", nil),
		lcPkg("pf", "2", "", map[string]string{"postinst": "configure"}),
		lcPkg("pg", "1", "", nil),
		lcPkg("pg", "2", "", map[string]string{"preinst": "upgrade"}),
		lcPkg("pk", "1", "", map[string]string{"prerm": "remove", "postinst": "abort-remove"}),
	} {
		debs[p.name+"_"+p.version] = p.build(t, dir)
	}
	step := func(name string, dpkgArgs []string, plan Plan, wantFail bool) {
		t.Helper()
		out, derr := tw.runDpkg(t, dpkgArgs...)
		res, gerr := apply(t, tw.r, plan, Options{})
		if (derr != nil) != wantFail {
			t.Errorf("%s: dpkg: %v\n%s", name, derr, out)
		}
		if (gerr != nil) != wantFail {
			t.Errorf("%s: grey: %v", name, gerr)
		}
		var fe *FailedError
		if wantFail && !errors.As(gerr, &fe) {
			t.Errorf("%s: grey's error is %T, not a FailedError: %v", name, gerr, gerr)
		}
		if wantFail && res != nil && res.HistoryID != 0 {
			var e []string
			_ = tw.r.DB.View(func(tx *bolt.Tx) error {
				h, _ := pkgdb.GetHistory(tx, res.HistoryID)
				for _, f := range h.Failed {
					e = append(e, f.Package+" "+f.Status)
				}
				return nil
			})
			if len(e) == 0 {
				t.Errorf("%s: the history entry lists no failure", name)
			}
		}
		tw.compare(t, name, names)
	}
	inst := func(keys ...string) ([]string, Plan) {
		args := []string{"-i"}
		var plan Plan
		for _, k := range keys {
			args = append(args, debs[k])
			plan.Install = append(plan.Install, Install{Path: debs[k]})
		}
		return args, plan
	}
	a, p := inst("pa_1", "pb_1", "pc_1", "pd_1", "pe_1", "ph_1", "pf_1", "pg_1", "pk_1")
	step("install (pa's preinst and pb's postinst fail)", a, p, true)
	a, p = inst("pf_2", "pg_2")
	step("upgrade (pf's postinst and pg's preinst fail)", a, p, true)
	step("remove (pd's prerm, pe's postrm and pk's prerm and abort-remove fail)", []string{"-r", "pd", "pe", "pk"},
		Plan{Remove: []Remove{{Name: "pd"}, {Name: "pe"}, {Name: "pk"}}}, true)
	step("purge (ph's postrm purge fails)", []string{"-P", "ph"}, Plan{Remove: []Remove{{Name: "ph", Purge: true}}}, true)

	// The scripts work now: configure --pending finishes what is left.
	tw.both(t, func(root string) {
		for _, n := range []string{"pb", "pf"} {
			if err := os.WriteFile(filepath.Join(root, "var/tmp/ok-"+n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	if out, err := tw.runDpkg(t, "--configure", "--pending"); err != nil {
		t.Errorf("dpkg --configure --pending: %v\n%s", err, out)
	}
	res, err := Configure(context.Background(), tw.r.DB, Options{Root: tw.grey})
	if err != nil {
		t.Errorf("Configure: %v", err)
	}
	if res != nil && len(res.Changes) != 3 {
		t.Errorf("Configure: changes %+v, want pb, pc and pf configured", res.Changes)
	}
	tw.compare(t, "configure --pending", names)
	// Configure is a transaction of the history, whose snapshots hold
	// the configured states (a rollback to it must not unconfigure).
	if res == nil || res.HistoryID == 0 {
		t.Fatalf("Configure recorded no history entry: %+v", res)
	}
	_ = tw.r.DB.View(func(tx *bolt.Tx) error {
		h, err := pkgdb.GetHistory(tx, res.HistoryID)
		if err != nil || h == nil || h.After["pb"] != "1" || len(h.Failed) != 0 {
			t.Errorf("Configure's history entry: %+v %v", h, err)
			return nil
		}
		s, err := pkgdb.GetSnapshot(tx, h.Snapshots["pb"])
		if err != nil || s == nil || s.Package.Status != pkgdb.StatusInstalled {
			t.Errorf("pb's snapshot in Configure's entry: %+v %v", s, err)
		}
		return nil
	})
}

// TestDpkgTriggerAgainstDpkg: a postinst that calls dpkg-trigger (await)
// activates another package's interest; grey, like dpkg, processes it at
// the end of the run: the same "postinst triggered" call and the same
// states, on a real Debian root (dpkg-trigger is the root's own).
func TestDpkgTriggerAgainstDpkg(t *testing.T) {
	testfixture.Root(t)
	root := testfixture.DebianRoot(t, testfixture.RootSpec{})
	tw := twinOf(t, root, openRoot(t, root))
	dir := t.TempDir()
	files := func(name string) []tentry {
		return []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/" + name + "/", typ: 'd'},
			{name: "./usr/share/" + name + "/file", body: name + "\n"}}
	}
	log := func(name string) string {
		return "#!/bin/sh\necho \"" + name + " postinst $*\" >> /var/tmp/calls\n"
	}
	watch := tpkg{name: "lcwatch", version: "1", scripts: map[string]string{
		"postinst": log("lcwatch"), "triggers": "interest lc-ping\ninterest-noawait lc-pong\n"}, files: files("lcwatch")}.build(t, dir)
	ping := tpkg{name: "lcping", version: "1", scripts: map[string]string{
		"postinst": log("lcping") + "dpkg-trigger lc-ping\n"}, files: files("lcping")}.build(t, dir)
	pong := tpkg{name: "lcpong", version: "1", scripts: map[string]string{
		"postinst": log("lcpong") + "dpkg-trigger --no-await lc-pong\n"}, files: files("lcpong")}.build(t, dir)
	names := []string{"lcwatch", "lcping", "lcpong"}
	for _, s := range []struct {
		name string
		deb  string
	}{{"the watcher", watch}, {"a postinst calling dpkg-trigger", ping}, {"one calling dpkg-trigger --no-await", pong}} {
		if out, err := tw.runDpkg(t, "-i", s.deb); err != nil {
			t.Fatalf("%s: dpkg -i: %v\n%s", s.name, err, out)
		}
		if _, err := apply(t, tw.r, Plan{Install: []Install{{Path: s.deb}}}, Options{}); err != nil {
			t.Fatalf("%s: grey: %v", s.name, err)
		}
		tw.compare(t, s.name, names)
	}
}

// TestRetryReinstallsHalfInstalled: an upgrade whose preinst and whose
// postrm abort-upgrade both fail leaves the package half-installed
// (reinstreq, dpkg -l "iHR"); the next change (Prepare, as for any grey
// command, with nothing requested) reinstalls it, as apt does, and the
// root is then what dpkg -i of the same package makes of the copy. A
// version no source has is a *ReinstallError.
func TestRetryReinstallsHalfInstalled(t *testing.T) {
	tw := newTwin(t)
	dir := t.TempDir()
	fail := map[string]string{"preinst": "upgrade", "postrm": "abort-upgrade"}
	v1 := lcPkg("pr", "1", "", fail).build(t, dir)
	v2 := lcPkg("pr", "2", "", fail).build(t, dir)
	names := []string{"pr"}
	for _, s := range []struct {
		name string
		deb  string
		fail bool
	}{{"install pr 1", v1, false}, {"upgrade to pr 2: preinst and postrm abort-upgrade fail", v2, true}} {
		out, derr := tw.runDpkg(t, "-i", s.deb)
		_, gerr := apply(t, tw.r, Plan{Install: []Install{{Path: s.deb}}}, Options{})
		if (derr != nil) != s.fail || (gerr != nil) != s.fail {
			t.Fatalf("%s: dpkg %v %s, grey %v", s.name, derr, out, gerr)
		}
		tw.compare(t, s.name, names)
	}
	st := statusOf(t, tw.grey, names)["pr"]
	if !strings.HasPrefix(st, "install reinstreq half-installed") {
		t.Fatalf("pr is %q, want install reinstreq half-installed", st)
	}
	ver := strings.TrimSpace(strings.Split(st, "|")[1])
	again := map[string]string{"1": v1, "2": v2}[ver]

	candidate := func(path string) *deb.Package {
		p, err := readDeb(path)
		if err != nil {
			t.Fatal(err)
		}
		p.Origin, p.SHA256, p.Filename = "test", "00", filepath.Base(path)
		return p
	}
	// What Prepare adds to every plan (the shell root's dash needs a dpkg
	// no index here has, so the resolver itself refuses this root): no
	// source has that version, refused as apt refuses; else pr reinstalled.
	_, err := reinstRequired(tw.r.DB, resolver.NewMemIndex(nil), &resolver.Plan{}, nil)
	var re *ReinstallError
	if !errors.As(err, &re) || re.Package != "pr" {
		t.Errorf("without the package: %v, want a ReinstallError for pr", err)
	}
	got, err := reinstRequired(tw.r.DB, resolver.NewMemIndex([]*deb.Package{candidate(again)}), &resolver.Plan{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "pr" || got[0].Version.String() != ver {
		t.Fatalf("reinstalls %v, want pr %s", got, ver)
	}
	tw.both(t, func(root string) {
		if err := os.WriteFile(filepath.Join(root, "var/tmp/ok-pr"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if out, err := tw.runDpkg(t, "-i", again); err != nil {
		t.Fatalf("dpkg -i again: %v\n%s", err, out)
	}
	if _, err := apply(t, tw.r, Plan{Install: []Install{{Path: again}}}, Options{}); err != nil {
		t.Fatalf("grey reinstall: %v", err)
	}
	tw.compare(t, "reinstall", names)
}
