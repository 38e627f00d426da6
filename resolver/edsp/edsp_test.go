package edsp

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const small = `# describe: a small scenario
# expect: valid
Request: EDSP 0.5
Architecture: amd64
Architectures: amd64 i386
Install: app:amd64 tool:i386
Remove: old:amd64
Dist-Upgrade: yes
Solver: grey

Package: app
Architecture: amd64
Version: 1.0-1
APT-ID: 1
APT-Pin: 500
APT-Candidate: yes
Depends: libc6 (>= 2.34) | libc6-compat
APT-Release:
 o=Debian,a=stable,n=bookworm,l=Debian,c=main,b=amd64

Package: old
Architecture: amd64
Version: 0.9
APT-ID: 2
Installed: yes
Hold: yes
APT-Automatic: yes
APT-Pin: 100

Package: libc6
Architecture: amd64
Version: 2.36-9
APT-ID: 3
Multi-Arch: same
APT-Pin: 500
APT-Candidate: yes
`

func TestRead(t *testing.T) {
	sc, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	r := sc.Request
	if r.Protocol != "EDSP 0.5" || r.Architecture != "amd64" || strings.Join(r.Architectures, ",") != "amd64,i386" {
		t.Errorf("request header: %+v", r)
	}
	if strings.Join(r.Install, ",") != "app:amd64,tool:i386" || strings.Join(r.Remove, ",") != "old:amd64" {
		t.Errorf("jobs: %+v", r)
	}
	if !r.UpgradeAll || r.ForbidRemove || r.ForbidNewInstall || !r.StrictPinning || r.Solver != "grey" {
		t.Errorf("Dist-Upgrade not folded or defaults wrong: %+v", r)
	}
	if got := strings.Join(sc.Comments, "|"); got != " describe: a small scenario| expect: valid" {
		t.Errorf("comments %q", got)
	}
	if len(sc.Packages) != 3 {
		t.Fatalf("%d packages", len(sc.Packages))
	}
	app, old := sc.Packages[0], sc.Packages[1]
	if app.ID != "1" || app.Pin != 500 || !app.Candidate || app.Installed || len(app.Releases) != 1 || app.Depends.String() != "libc6 (>= 2.34) | libc6-compat" {
		t.Errorf("app: %+v", app)
	}
	if !old.Installed || !old.Hold || !old.Automatic || old.Pin != 100 || old.Origin != "installed" {
		t.Errorf("old: %+v", old)
	}
}

func TestReadDeprecatedUpgrade(t *testing.T) {
	sc, err := Read(strings.NewReader("Request: EDSP 0.5\nArchitecture: amd64\nUpgrade: yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := sc.Request; !r.UpgradeAll || !r.ForbidRemove || !r.ForbidNewInstall {
		t.Errorf("Upgrade: yes not folded: %+v", r)
	}
	if len(sc.Request.Architectures) != 1 || sc.Request.Architectures[0] != "amd64" {
		t.Errorf("Architectures default: %v", sc.Request.Architectures)
	}
}

func TestReadErrors(t *testing.T) {
	req := "Request: EDSP 0.5\nArchitecture: amd64\n\n"
	tests := []struct{ name, in, want string }{
		{"empty", "", "no Request stanza"},
		{"neither request nor package", "Origin: x\n", "neither a Request nor a Package"},
		{"no request, no real arch", "Package: a\nVersion: 1\nArchitecture: all\nAPT-ID: 1\n", "native architecture is unknown"},
		{"not edsp", "Request: CUDF\nArchitecture: amd64\n", "not an EDSP version"},
		{"no arch", "Request: EDSP 0.5\n", "without Architecture"},
		{"bad bool", "Request: EDSP 0.5\nArchitecture: amd64\nAutoremove: perhaps\n", "want yes or no"},
		{"no id", req + "Package: a\nVersion: 1\nArchitecture: all\n", "no APT-ID"},
		{"bad pin", req + "Package: a\nVersion: 1\nArchitecture: all\nAPT-ID: 1\nAPT-Pin: high\n", "not an integer"},
		{"bad version", req + "Package: a\nVersion: !\nArchitecture: all\nAPT-ID: 1\n", "line 4"},
		{"bad depends", req + "Package: a\nVersion: 1\nArchitecture: all\nAPT-ID: 1\nDepends: b (>> )\n", "Depends"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestReadAptAccepts: input apt's own solver (/usr/lib/apt/solvers/apt)
// accepts is accepted, with a warning (issue 15, point 7).
func TestReadAptAccepts(t *testing.T) {
	req := "Request: EDSP 0.5\nArchitecture: amd64\nInstall: a:amd64\n\n"
	a := "Package: a\nVersion: 1\nArchitecture: amd64\nAPT-ID: 1\nAPT-Pin: 500\nAPT-Candidate: yes\nDepends: b\n"
	b := "\nPackage: b\nVersion: 1\nArchitecture: amd64\nAPT-ID: 2\nAPT-Pin: 500\nAPT-Candidate: yes\n"
	tests := []struct {
		name, in, warn string
		install        int // packages the answer installs
	}{
		{"reused APT-ID", req + a + strings.Replace(b, "APT-ID: 2", "APT-ID: 1", 1), "APT-ID 1 used before", 2},
		{"Multi-Arch: none", req + strings.Replace(a, "Depends: b\n", "Depends: b\nMulti-Arch: none\n", 1) + b, `unknown Multi-Arch value "none"`, 2},
		{"no Request stanza", a + b, "no Request stanza", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Read(strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !strings.Contains(strings.Join(sc.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", sc.Warnings, tc.warn)
			}
			if sc.Request.Architecture != "amd64" {
				t.Errorf("architecture %q", sc.Request.Architecture)
			}
			ans, _, err := sc.Solve(context.Background(), Options{})
			if err != nil || ans.Error != nil {
				t.Fatalf("solve: %v %+v", err, ans.Error)
			}
			if len(ans.Install) != tc.install || len(ans.Remove) != 0 {
				t.Fatalf("answer installs %d, removes %d; want %d, 0", len(ans.Install), len(ans.Remove), tc.install)
			}
			// The answer reads back to the same packages, shared ids
			// told apart by the stanzas' Package fields.
			var buf bytes.Buffer
			if err := WriteAnswer(&buf, ans); err != nil {
				t.Fatal(err)
			}
			back, err := ReadAnswer(&buf, sc)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ans.Install {
				if back.Install[i] != ans.Install[i] {
					t.Errorf("install %d reads back as %s, want %s", i, back.Install[i].Package, ans.Install[i].Package)
				}
			}
		})
	}
}

// TestReadAnswerSharedID: apt's solver writes a bare "Install: ID"; of the
// packages sharing the id, the one not installed is meant.
func TestReadAnswerSharedID(t *testing.T) {
	in := "Request: EDSP 0.5\nArchitecture: amd64\n\n" +
		"Package: a\nVersion: 1\nArchitecture: amd64\nAPT-ID: 5\nAPT-Pin: 100\nInstalled: yes\n\n" +
		"Package: a\nVersion: 2\nArchitecture: amd64\nAPT-ID: 5\nAPT-Pin: 500\nAPT-Candidate: yes\n"
	sc, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := ReadAnswer(strings.NewReader("Install: 5\n\nRemove: 5\n"), sc)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Install[0].Version.String() != "2" || ans.Remove[0].Version.String() != "1" {
		t.Fatalf("install %s, remove %s", ans.Install[0].Package, ans.Remove[0].Package)
	}
	ans, err = ReadAnswer(strings.NewReader("Install: 5\nPackage: a\nVersion: 1\n"), sc)
	if err != nil || ans.Install[0].Version.String() != "1" {
		t.Fatalf("by Version field: %v %v", ans, err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	sc, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sc.Write(&b); err != nil {
		t.Fatal(err)
	}
	back, err := Read(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("re-read: %v\n%s", err, b.String())
	}
	var b2 bytes.Buffer
	if err := back.Write(&b2); err != nil {
		t.Fatal(err)
	}
	if b.String() != b2.String() {
		t.Fatalf("not stable:\n%s\n---\n%s", b.String(), b2.String())
	}
	if len(back.Packages) != 3 || !back.Packages[1].Hold || back.Packages[0].Releases[0] != sc.Packages[0].Releases[0] {
		t.Fatalf("lost data:\n%s", b.String())
	}
}

func TestAnswer(t *testing.T) {
	sc, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	a := &Answer{Install: []*Package{sc.Packages[0], sc.Packages[2]}, Remove: []*Package{sc.Packages[1]}}
	var b bytes.Buffer
	if err := WriteProgress(&b, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 50, "solving"); err != nil {
		t.Fatal(err)
	}
	if err := WriteAnswer(&b, a); err != nil {
		t.Fatal(err)
	}
	want := "Progress: Wed, 25 Nov 2026 00:00:00 +0000\nPercentage: 50\nMessage: solving\n\n" +
		"Install: 1\nPackage: app\nVersion: 1.0-1\nArchitecture: amd64\n\n" +
		"Install: 3\nPackage: libc6\nVersion: 2.36-9\nArchitecture: amd64\n\n" +
		"Remove: 2\nPackage: old\nVersion: 0.9\nArchitecture: amd64\n"
	if b.String() != want {
		t.Fatalf("answer:\n%s\nwant:\n%s", b.String(), want)
	}
	back, err := ReadAnswer(bytes.NewReader(b.Bytes()), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Install) != 2 || len(back.Remove) != 1 || back.Error != nil {
		t.Fatalf("read back %+v", back)
	}
	final := sc.Final(back)
	if len(final) != 2 || final[0].Name != "app" || final[1].Name != "libc6" {
		t.Fatalf("final %v", final)
	}

	b.Reset()
	if err := WriteAnswer(&b, &Answer{Error: &ErrorReport{Message: "cannot install app\napp depends on x\n\nwhich is missing"}}); err != nil {
		t.Fatal(err)
	}
	want = "Error: grey-unsatisfiable\nMessage: cannot install app\n app depends on x\n .\n which is missing\n"
	if b.String() != want {
		t.Fatalf("error answer:\n%q\nwant\n%q", b.String(), want)
	}
	back, err = ReadAnswer(bytes.NewReader(b.Bytes()), sc)
	if err != nil || back.Error == nil || !strings.Contains(back.Error.Message, "which is missing") {
		t.Fatalf("error read back: %+v %v", back, err)
	}
}

func TestReadAnswerErrors(t *testing.T) {
	sc, err := Read(strings.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"Install: 99\n", "Frobnicate: 1\n", "Install: 1\n\nError: x\nMessage: y\n"} {
		if _, err := ReadAnswer(strings.NewReader(in), sc); err == nil {
			t.Errorf("answer %q accepted", in)
		}
	}
}

func TestReduce(t *testing.T) {
	in := `Request: EDSP 0.5
Architecture: amd64
Install: a:amd64

Package: a
Architecture: amd64
Version: 1
APT-ID: 1
APT-Pin: 500
Depends: b | c
Recommends: r
Description: dropped

Package: b
Architecture: amd64
Version: 1
APT-ID: 2
APT-Pin: 500
Depends: virt (>= 1)

Package: c
Architecture: amd64
Version: 1
APT-ID: 3
APT-Pin: 500

Package: p
Architecture: amd64
Version: 1
APT-ID: 4
APT-Pin: 500
Provides: virt (= 2)

Package: r
Architecture: amd64
Version: 1
APT-ID: 5
APT-Pin: 500

Package: unrelated
Architecture: amd64
Version: 1
APT-ID: 6
APT-Pin: 500

Package: kept
Architecture: amd64
Version: 1
APT-ID: 7
APT-Pin: 500
Installed: yes
`
	sc, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rec  bool
		want string
	}{{false, "a b c p kept"}, {true, "a b c p r kept"}} {
		r := Reduce(sc, tc.rec)
		var names []string
		for _, p := range r.Packages {
			names = append(names, p.Name)
			if p.Stanza.Get("Description") != "" {
				t.Errorf("Description kept in %s", p.Name)
			}
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("recommends=%v: %s, want %s", tc.rec, got, tc.want)
		}
	}
	if sc.Packages[0].Stanza.Get("Description") == "" {
		t.Error("Reduce changed its input")
	}
}

// FuzzRead feeds arbitrary input to the scenario reader: it must never
// panic, and whatever it accepts must write and read back the same.
func FuzzRead(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte("Request: EDSP 0.5\nArchitecture: amd64\nUpgrade: yes\n"))
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "resolver", "*", "*.edsp"))
	for i, name := range files {
		if i >= 40 {
			break
		}
		if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Read(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			_ = errors.As(err, &fe)
			return
		}
		var b bytes.Buffer
		if err := sc.Write(&b); err != nil {
			// Values the control writer refuses (say, a field with a
			// blank continuation line) are fine to refuse.
			return
		}
		back, err := Read(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("written scenario does not read back: %v\n%s", err, b.String())
		}
		if len(back.Packages) != len(sc.Packages) {
			t.Fatalf("%d packages became %d", len(sc.Packages), len(back.Packages))
		}
	})
}

// FuzzReadAnswer feeds arbitrary answers to the answer reader against a
// fixed scenario: it must never panic, and whatever it accepts must name
// only the scenario's packages.
func FuzzReadAnswer(f *testing.F) {
	sc, err := Read(strings.NewReader(small))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("Install: 1\nPackage: app\n\nRemove: 2\n"))
	f.Add([]byte("Progress: Wed, 25 Nov 2026 00:00:00 +0000\nPercentage: 5\n\nAutoremove: 3\n"))
	f.Add([]byte("Error: x\nMessage: no\n more\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadAnswer(bytes.NewReader(data), sc)
		if err != nil {
			return
		}
		for _, list := range [][]*Package{a.Install, a.Remove, a.Autoremove} {
			for _, p := range list {
				if p.ID != "1" && p.ID != "2" && p.ID != "3" {
					t.Fatalf("answer names %q", p.ID)
				}
			}
		}
		var b bytes.Buffer
		if err := WriteAnswer(&b, a); err != nil && a.Error == nil {
			t.Fatalf("accepted answer does not write: %v", err)
		}
	})
}

func TestSolveAutoremoveStanzas(t *testing.T) {
	in := `Request: EDSP 0.5
Architecture: amd64
Install: new:amd64

Package: new
Architecture: amd64
Version: 1
APT-ID: 1
APT-Pin: 500
APT-Candidate: yes

Package: app
Architecture: amd64
Version: 1
APT-ID: 2
APT-Pin: 100
APT-Candidate: yes
Installed: yes
Depends: lib

Package: lib
Architecture: amd64
Version: 1
APT-ID: 3
APT-Pin: 100
APT-Candidate: yes
Installed: yes
APT-Automatic: yes

Package: leftover
Architecture: amd64
Version: 1
APT-ID: 4
APT-Pin: 100
APT-Candidate: yes
Installed: yes
APT-Automatic: yes
`
	sc, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	a, plan, err := sc.Solve(context.Background(), Options{})
	if err != nil || plan == nil || a.Error != nil {
		t.Fatalf("solve: %v %+v", err, a)
	}
	if len(a.Install) != 1 || a.Install[0].ID != "1" || len(a.Remove) != 0 {
		t.Fatalf("answer %+v", a)
	}
	if len(a.Autoremove) != 1 || a.Autoremove[0].ID != "4" {
		var ids []string
		for _, p := range a.Autoremove {
			ids = append(ids, p.ID)
		}
		t.Fatalf("Autoremove %v, want [4] (leftover)", ids)
	}
}
