package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// reorderCLI is a small command tree like grey's: global flags, a command
// with its own switches and valued flags, and a command with subcommands.
type reorderCLI struct {
	Globals
	Install struct {
		NoScripts bool     `name:"no-scripts"`
		NoRec     bool     `name:"no-install-recommends"`
		Jobs      int      `name:"jobs"`
		Download  bool     `short:"d" name:"download-only"`
		Packages  []string `arg:"" optional:""`
	} `cmd:""`
	Build struct {
		Output string `short:"o"`
		Dir    string `arg:"" optional:""`
	} `cmd:""`
	Run struct {
		Name string   `arg:""`
		Args []string `arg:"" optional:"" passthrough:""`
	} `cmd:""`
	Mirror struct {
		Sync struct {
			Jobs int      `name:"jobs"`
			Name []string `arg:"" optional:""`
		} `cmd:""`
	} `cmd:""`
}

func TestReorder(t *testing.T) {
	var c reorderCLI
	parser, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"install x", "install x"},
		{"--no-scripts install x", "install --no-scripts x"},
		{"--no-install-recommends install x", "install --no-install-recommends x"},
		{"-y --no-scripts --root /r install x", "-y --root /r install --no-scripts x"},
		{"--jobs 3 -d install x", "install --jobs 3 -d x"},
		{"--jobs=3 install x", "install --jobs=3 x"},
		{"-o A::B=c --no-scripts install x", "--option=A::B=c install --no-scripts x"},
		{"-oA::B=c install x", "--option=A::B=c install x"},
		{"install x -o A::B=c", "install x --option=A::B=c"},
		{"install x -o out.deb", "install x --option=out.deb"}, // for settle to refuse
		{"build d -o out.deb", "build d -o out.deb"},
		{"build d -oout.deb", "build d -oout.deb"},
		{"build d -o A::B=c -o x", "build d --option=A::B=c -o x"},
		{"-o A::B=c build d", "--option=A::B=c build d"},
		{"install -- -o A::B=c", "install -- -o A::B=c"},
		{"run app -o A::B=c", "run app -o A::B=c"}, // the app's arguments
		{"run -o A::B=c app -o x", "run --option=A::B=c app -o x"},
		{"-y run app ls -o", "-y run app ls -o"},
		{"--jobs 2 mirror sync m", "mirror sync --jobs 2 m"},
		{"--unknown install x", "--unknown install x"}, // left for kong to name
		{"-- --no-scripts install", "-- --no-scripts install"},
		{"--no-scripts", "--no-scripts"},
		{"--no-scripts nosuch x", "--no-scripts nosuch x"},
	} {
		got := strings.Join(Reorder(parser.Model, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("Reorder(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// And kong takes the result.
	for _, in := range []string{"--no-scripts --jobs 3 -y install x", "-o A::B=c --jobs=2 mirror sync m", "build -o x -o A::B=c"} {
		if _, err := parser.Parse(Reorder(parser.Model, strings.Fields(in))); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestSettingsPrecedence: flag over -o over grey.conf over the built-in
// default, for each setting a flag, -o and grey.conf can all give.
func TestSettingsPrecedence(t *testing.T) {
	type want struct {
		rec   bool
		jobs  int
		yes   bool
		color bool
	}
	for _, tc := range []struct {
		name  string
		conf  string
		args  string
		env   string
		piped bool
		want  want
		error string
	}{
		{name: "defaults", args: "x", want: want{true, DefaultJobs, false, true}},
		{name: "defaults piped", args: "x", piped: true, want: want{true, DefaultJobs, false, false}},
		{name: "--color=always piped", args: "--color=always x", piped: true, want: want{true, DefaultJobs, false, true}},
		{name: "APT::Color=true piped", conf: `APT::Color "true";`, args: "x", piped: true, want: want{true, DefaultJobs, false, true}},
		{name: "--color=auto over APT::Color", conf: `APT::Color "true";`, args: "--color=auto x", piped: true, want: want{true, DefaultJobs, false, false}},
		{name: "--color=never on a terminal", args: "--colour=never x", want: want{true, DefaultJobs, false, false}},
		{name: "grey.conf", conf: `APT::Install-Recommends "false"; Grey::Parallel-Downloads "7"; APT::Get::Assume-Yes "yes"; APT::Color "always";`,
			args: "x", want: want{false, 7, true, true}},
		{name: "-o over grey.conf", conf: `APT::Install-Recommends "false"; Grey::Parallel-Downloads "7"; APT::Color "1";`, piped: true,
			args: "-o APT::Install-Recommends=true -o Grey::Parallel-Downloads=2 -o apt::color=never x", want: want{true, 2, false, false}},
		{name: "flags over -o", conf: `APT::Color "never";`,
			args: "-o APT::Install-Recommends=true -o Grey::Parallel-Downloads=2 --no-rec --jobs 5 -y --color always -o APT::Get::Assume-Yes=false x",
			want: want{false, 5, true, true}},
		{name: "NO_COLOR", args: "x", env: "1", want: want{true, DefaultJobs, false, false}},
		{name: "--color=always over NO_COLOR", args: "--color=always x", env: "1", want: want{true, DefaultJobs, false, true}},
		{name: "unknown -o", args: "-o APT::Get::Purge=true x", error: "APT::Get::Purge: grey does not know this setting"},
		{name: "-o without =", args: "-o APT::Color x", error: `-o "APT::Color": want NAME=VALUE`},
		{name: "bad -o value", args: "-o APT::Install-Recommends=maybe x", error: "-o APT::Install-Recommends=maybe: not true or false"},
		{name: "bad grey.conf value", conf: `Grey::Parallel-Downloads "many";`, args: "x", error: `grey.conf:1: Grey::Parallel-Downloads "many": not a whole number`},
		{name: "bad --color", args: "--color=sometimes x", error: `--color "sometimes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.conf != "" {
				if err := os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "etc/grey/grey.conf"), []byte(tc.conf+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var c struct {
				Globals
				Cmd settingsCmd `cmd:""`
			}
			c.Terminal = func(io.Writer) bool { return !tc.piped }
			c.Getenv = func(k string) string {
				if k == "NO_COLOR" {
					return tc.env
				}
				return ""
			}
			var out, errb bytes.Buffer
			code := Run(context.Background(), &c, &c.Globals, append([]string{"--root", root, "cmd"}, strings.Fields(tc.args)...),
				strings.NewReader(""), &out, &errb, time.Now)
			if tc.error != "" {
				if code != ExitUsage || !strings.Contains(errb.String(), tc.error) {
					t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb.String(), ExitUsage, tc.error)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			got := want{c.Cmd.rec, c.Cmd.jobs, c.Yes, c.Cmd.color}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

type settingsCmd struct {
	NoRec bool   `name:"no-rec"`
	Jobs  int    `name:"jobs"`
	Arg   string `arg:""`

	rec   bool
	jobs  int
	color bool
}

func (c *settingsCmd) Run(g *Globals) (err error) {
	if c.rec, err = g.Recommends(c.NoRec); err != nil {
		return err
	}
	if c.jobs, err = g.Jobs(c.Jobs); err != nil {
		return err
	}
	c.color = g.Colorize(g.Stdout)
	return nil
}

// FuzzReorder: whatever the arguments, reorder only moves them (the same
// arguments come out, none lost or added), a second pass of Reorder
// changes nothing, and kong takes or refuses the result without panicking.
func FuzzReorder(f *testing.F) {
	var c reorderCLI
	parser, err := kong.New(&c)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"--no-scripts install x", "--jobs 3 -y mirror sync m", "-- install", "--jobs", "-o install x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := strings.Fields(s)
		out, _, _ := reorder(parser.Model, in)
		count := map[string]int{}
		for _, a := range in {
			count[a]++
		}
		for _, a := range out {
			count[a]--
		}
		for a, n := range count {
			if n != 0 {
				t.Fatalf("Reorder(%q) = %q: %q %+d", in, out, a, n)
			}
		}
		once := Reorder(parser.Model, in)
		if again := Reorder(parser.Model, once); strings.Join(again, "\x00") != strings.Join(once, "\x00") {
			t.Fatalf("Reorder(%q) = %q, then %q", in, once, again)
		}
		var c reorderCLI
		if p, err := kong.New(&c, kong.Exit(func(int) {}), kong.Writers(io.Discard, io.Discard)); err == nil {
			p.Parse(once)
		}
	})
}

// TestCommasStay: a comma is part of a -o value (Acquire::No-Proxy's host
// list) and of a --source line ([arch=amd64,i386]); kong's default splits
// repeatable flags at commas.
func TestCommasStay(t *testing.T) {
	var c struct {
		Globals
		Cmd settingsCmd `cmd:""`
	}
	var out, errb bytes.Buffer
	args := []string{"--root", t.TempDir(), "-o", "Acquire::No-Proxy=a.example,b.example", "--source", "deb [arch=amd64,i386] http://x/ y main", "cmd", "x"}
	if code := Run(context.Background(), &c, &c.Globals, args, strings.NewReader(""), &out, &errb, time.Now); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	if len(c.Options) != 1 || len(c.Sources) != 1 {
		t.Fatalf("options %q, sources %q", c.Options, c.Sources)
	}
	cfg, _ := c.Config()
	if v := cfg.String("Acquire::No-Proxy"); v != "a.example,b.example" {
		t.Errorf("Acquire::No-Proxy = %q", v)
	}
}

// TestQuiet: progress is drawn only on a terminal, without --json, -q or
// grey.conf's quiet.
func TestQuiet(t *testing.T) {
	for _, tc := range []struct {
		conf     string
		args     string
		terminal bool
		want     bool
	}{
		{"", "x", true, true},
		{"", "x", false, false},
		{"", "--json x", true, false},
		{"", "-q x", true, false},
		{"", "x -qq", true, false},
		{`quiet "1";`, "x", true, false},
		{`quiet "0";`, "x", true, true},
		{`quiet "2";`, "-o quiet=0 x", true, true},
	} {
		root := t.TempDir()
		if tc.conf != "" {
			if err := os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/grey/grey.conf"), []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var c struct {
			Globals
			Cmd settingsCmd `cmd:""`
		}
		c.Terminal = func(io.Writer) bool { return tc.terminal }
		var out, errb bytes.Buffer
		args := append([]string{"--root", root, "cmd"}, strings.Fields(tc.args)...)
		if code := Run(context.Background(), &c, &c.Globals, args, strings.NewReader(""), &out, &errb, time.Now); code != 0 {
			t.Fatalf("%q: exit %d %s", args, code, errb.String())
		}
		if got := c.Progress(&errb); got != tc.want {
			t.Errorf("grey.conf %q, %q, terminal %v: progress %v, want %v", tc.conf, tc.args, tc.terminal, got, tc.want)
		}
	}
}
