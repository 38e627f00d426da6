package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/sources"
)

// updatedRoot returns a root whose sources.list names the fixture's sources
// (without bookworm main under -race) and whose lists were updated, and
// those source lines.
func updatedRoot(t *testing.T) (string, []string) {
	return updatedRootOf(t, showRace)
}

// updatedRootOf is updatedRoot, without bookworm main when small.
func updatedRootOf(t *testing.T, small bool) (string, []string) {
	t.Helper()
	dir := testfixture.Bookworm(t)
	kr := filepath.Join(dir, "debian-archive-keyring.gpg")
	lines := []string{
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm main", kr, dir),
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian bookworm-updates main", kr, dir),
		fmt.Sprintf("deb [signed-by=%s] file://%s/debian-security bookworm-security main", kr, dir),
	}
	if small {
		lines = lines[1:]
	}
	root := t.TempDir()
	var srcs []*sources.Source
	for _, l := range lines {
		s, err := sources.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	_, err := repo.Update(context.Background(), srcs, repo.Options{
		Root: root, Now: func() time.Time { return testfixture.Clock },
		Store: &repo.MemoryStore{}, Architectures: []string{"amd64"},
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/grey/sources.list"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, lines
}

func TestIndexCommands(t *testing.T) {
	root, lines := updatedRoot(t)
	sec := "bookworm-security"
	type indexCase struct {
		name string
		args []string
		code int
		// want are substrings of stdout, in order; stderr holds errWant.
		want    []string
		errWant string
	}
	tests := []indexCase{
		{"show", []string{"show", "liblzma5"}, 0, []string{
			"Package: liblzma5\nSource: xz-utils\nVersion: 5.4.1-1+deb12u2\n",
			"\nSHA256: ", "\n\n",
		}, ""},
		{"show unknown", []string{"show", "no-such-package"}, 100, nil, "no package no-such-package"},
		{"policy", []string{"policy", "liblzma5"}, 0, []string{
			"liblzma5:\n  Installed: (none)\n  Candidate: 5.4.1-1+deb12u2\n  Version table:\n",
			"     5.4.1-1+deb12u2 500\n", "        500 file:", "debian-security " + sec + "/main amd64 Packages\n",
		}, ""},
		{"search", []string{"search", "^liblzma", "COMPRESSION"}, 0, []string{"liblzma5 - XZ-format compression library\n"}, ""},
		{"search json", []string{"--json", "search", "^liblzma5$"}, 0, []string{`"name": "liblzma5"`, `"description": "XZ-format compression library"`}, ""},
		{"search nothing", []string{"search", "^no-such-thing$"}, 100, nil, ""},
		{"search bad regex", []string{"search", "("}, 2, nil, "pattern"},
		{"list", []string{"list", "liblzma*"}, 0, []string{"liblzma5/" + sec + " 5.4.1-1+deb12u2 amd64\n"}, ""},
		{"list bad glob", []string{"list", "["}, 2, nil, "pattern"},
		{"source override", []string{"--source", lines[len(lines)-1], "show", "liblzma5"}, 0, []string{"Version: 5.4.1-1+deb12u2\n"}, ""},
		{"never updated", []string{"--source", "deb file:///nonexistent sid main", "show", "hello"}, 1, nil, "grey update"},
	}
	if !showRace {
		tests = append(tests,
			indexCase{"show hello", []string{"show", "hello"}, 0, []string{"Package: hello\nVersion: 2.10-3\nInstalled-Size: 277\n", "SHA256: 2e6e2f1a0007dc43bc91c273fd36e91e40a4f1c2765a03eca68b70a42103878a\n\n"}, ""},
			indexCase{"list all", []string{"list", "--all", "liblzma5"}, 0, []string{"liblzma5/bookworm-security 5.4.1-1+deb12u2 amd64\nliblzma5/bookworm 5.4.1-1+deb12u1 amd64\n"}, ""},
			indexCase{"virtual", []string{"show", "mail-transport-agent"}, 100, nil, "virtual package provided by: "},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := grey(t, "", append([]string{"--root", root}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.errWant) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.errWant)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stdout lacks %q after the earlier parts:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
	// The cache was built once, under the root.
	ents, err := filepath.Glob(filepath.Join(root, index.CacheDirIn, "*", "*.idx"))
	if err != nil || len(ents) != len(lines) {
		t.Errorf("cache files %v (%v), want %d", ents, err, len(lines))
	}
}

func TestIndexCommandsJSON(t *testing.T) {
	root, _ := updatedRoot(t)
	var show []cli.ShowEntry
	code, out, errOut := grey(t, "", "--root", root, "--json", "show", "liblzma5")
	if code != 0 || json.Unmarshal([]byte(out), &show) != nil || len(show) == 0 ||
		show[0].Version != "5.4.1-1+deb12u2" || show[0].Fields["Package"] != "liblzma5" {
		t.Fatalf("show --json: %d %q %q", code, out, errOut)
	}
	var pol []cli.PolicyEntry
	code, out, _ = grey(t, "", "--root", root, "--json", "policy", "liblzma5")
	if code != 0 || json.Unmarshal([]byte(out), &pol) != nil || len(pol) != 1 || !pol[0].Versions[0].Candidate ||
		pol[0].Candidate != "5.4.1-1+deb12u2" {
		t.Fatalf("policy --json: %d %q", code, out)
	}
	var list []listJSON
	code, out, _ = grey(t, "", "--root", root, "--json", "list", "liblzma5")
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || len(list[0].Suites) == 0 || list[0].Suites[0] != "bookworm-security" {
		t.Fatalf("list --json: %d %q", code, out)
	}
}

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// TestIndexGolden compares the commands' whole output on the two small
// fixture sources with testdata/index/*.golden (go test -update rewrites
// them). The fixture's path is written as $FIXTURE.
func TestIndexGolden(t *testing.T) {
	root, lines := updatedRootOf(t, true)
	fixture := testfixture.Bookworm(t)
	// Source ids derive from the fixture's path, which differs between
	// checkouts (and long paths are shortened with a hash): name them by
	// their suite instead.
	var pairs []string
	for _, l := range lines {
		src, err := sources.Parse(l)
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, src.ID(), "$SOURCE("+src.Suite+")")
	}
	ids := strings.NewReplacer(pairs...)
	tests := []struct {
		name string
		args []string
	}{
		{"show", []string{"show", "liblzma5", "libpcre2-8-0"}},
		{"policy", []string{"policy", "liblzma5", "tzdata"}},
		{"list", []string{"list", "--all", "libssl*"}},
		{"search", []string{"search", "^libx11"}},
		{"show-json", []string{"--json", "show", "tzdata"}},
		{"policy-json", []string{"--json", "policy", "liblzma5"}},
		{"list-json", []string{"--json", "list", "libx11-6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := grey(t, "", append([]string{"--root", root}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			out = strings.ReplaceAll(ids.Replace(out), fixture, "$FIXTURE")
			path := filepath.Join("testdata", "index", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if out != string(want) {
				t.Errorf("grey %s differs from %s:\n%s", strings.Join(tt.args, " "), path, out)
			}
		})
	}
}

// TestShowMatchesAptCache runs real apt-cache show, with a scratch
// configuration over the same verified lists, as the oracle: grey show
// must print the same bytes for the same packages (a sample of every name,
// and every name available from more than one source).
func TestShowMatchesAptCache(t *testing.T) {
	aptCache := testfixture.Tool(t, "apt-cache", "apt")
	root, _ := updatedRoot(t)
	suites := fixtureSuites
	if showRace {
		suites = suites[1:]
	}
	env := testfixture.NewAptEnv(t, testfixture.AptOptions{Suites: suites})

	// Every 40th name, and every name with several versions or sources.
	code, out, errOut := grey(t, "", "--root", root, "list", "--all")
	if code != 0 {
		t.Fatalf("list: %s", errOut)
	}
	count := map[string]int{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, _, _ := strings.Cut(line, "/")
		if count[name] == 0 {
			order = append(order, name)
		}
		count[name]++
		if strings.Contains(line, ",") {
			count[name]++
		}
	}
	var names []string
	for i, n := range order {
		if i%40 == 0 || count[n] > 1 {
			names = append(names, n)
		}
	}
	code, got, errOut := grey(t, "", append([]string{"--root", root, "show"}, names...)...)
	if code != 0 {
		t.Fatalf("grey show: %s", errOut)
	}
	cmd := env.Command(context.Background(), aptCache, append([]string{"show"}, names...)...)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("apt-cache show: %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("grey show differs from apt-cache show for %d packages at line %d:\ngrey: %q\napt:  %q", len(names), i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("grey show prints %d lines, apt-cache show %d", len(gl), len(wl))
	}
	t.Logf("%d packages, %d bytes identical", len(names), len(got))
}

// TestShowRebuildsDamagedCache damages the stanza text of every cache file
// of a root (found only when a damaged block is read, after Load) and
// checks that show still prints the right stanza: it reports the damage,
// rebuilds the cache and runs again.
func TestShowRebuildsDamagedCache(t *testing.T) {
	root, _ := updatedRootOf(t, true)
	if code, _, errOut := grey(t, "", "--root", root, "show", "liblzma5"); code != 0 {
		t.Fatalf("show: %s", errOut)
	}
	files, err := filepath.Glob(filepath.Join(root, index.CacheDirIn, "*", "*.idx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cache files (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The stanza text is the last section (its offset is the seventh
		// in the header's section table); damage every 4 KiB of it.
		text := int(binary.LittleEndian.Uint32(b[64+8*6:]))
		for i := text; i < len(b); i += 4096 {
			b[i] ^= 0x55
		}
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := grey(t, "", "--root", root, "show", "liblzma5")
	if code != 0 || !strings.Contains(out, "Package: liblzma5\n") || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("show over a damaged cache: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = grey(t, "", "--root", root, "show", "liblzma5")
	if code != 0 || errOut != "" {
		t.Errorf("show after the rebuild: exit %d, stderr %q", code, errOut)
	}
}

// fixtureSuites are the bookworm fixture's suites.
var fixtureSuites = []string{"bookworm", "bookworm-updates", "bookworm-security"}
