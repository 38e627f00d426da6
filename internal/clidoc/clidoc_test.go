package clidoc

import (
	"bytes"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/greypm/grey/internal/testfixture"
)

// model is a small command tree with the shapes grey's has: global flags,
// a command group with subcommands, an alias, a hidden command, positional
// arguments and flags of each kind.
type model struct {
	Root string `help:"Operate on DIR." placeholder:"DIR"`
	Yes  bool   `short:"y" help:"Answer yes."`
	// Option's -o is outside kong's model, as grey's is.
	Option []string `name:"option" also-short:"o" help:"Set a setting." placeholder:"NAME=VALUE"`
	Color  string   `name:"color" aliases:"colour" values:"auto,always,never" help:"Colour." placeholder:"WHEN"`

	Install struct {
		NoScripts bool     `name:"no-scripts" help:"Skip maintainer scripts."`
		Packages  []string `arg:"" help:"Packages."`
	} `cmd:"" help:"Install packages."`
	Repo struct {
		Publish struct {
			Out string `help:"Output directory." placeholder:"DIR"`
		} `cmd:"" help:"Publish a repository."`
		Keys struct{} `cmd:"" aliases:"keyring" help:"List keys."`
	} `cmd:"" help:"Repositories."`
	Secret struct{} `cmd:"" hidden:"" help:"Not shown."`
}

func app(t *testing.T) *kong.Application {
	t.Helper()
	var m model
	k, err := kong.New(&m, kong.Name("grey"), kong.Description("A package manager."))
	if err != nil {
		t.Fatal(err)
	}
	return k.Model
}

// complete runs the generated bash completion for the words typed so far
// (the last one being completed) and returns bash's candidates.
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	bash := testfixture.Tool(t, "bash", "bash")
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := script + "\nCOMP_WORDS=(grey " + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		strconv.Itoa(len(words)) + "\n_grey\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	out, err := exec.Command(bash, "-c", prog).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	var b bytes.Buffer
	if err := Completion(&b, app(t), "bash"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"ins"}, "install"},
		{[]string{"re"}, "repo"},
		{[]string{"repo", "pu"}, "publish"},
		{[]string{"repo", "keyr"}, "keyring"},
		{[]string{"install", "--no-s"}, "--no-scripts"},
		{[]string{"--root", "/r", "install", "--ro"}, "--root"},
		{[]string{"repo", "publish", "--ou"}, "--out"},
		{[]string{"-y", "repo", "publish", "--y"}, "--yes"},
		// -o, which grey turns into --option (issue 18), at every level.
		{[]string{"-o"}, "-o"},
		{[]string{"repo", "publish", "-o"}, "-o"},
		// --color's values, after the flag or its "=" (bash splits
		// --color=al into three words).
		{[]string{"--color", "al"}, "always"},
		{[]string{"--color", "=", "n"}, "never"},
		{[]string{"install", "--colour", "au"}, "auto"},
		{[]string{"install", "--colour", "=", "au"}, "auto"},
	} {
		got := complete(t, b.String(), tc.words...)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("complete %q = %q, want [%s]", tc.words, got, tc.want)
		}
	}
	if got := complete(t, b.String(), "--color", ""); !slices.Equal(got, []string{"auto", "always", "never"}) {
		t.Errorf("complete --color '' = %q, want auto always never", got)
	}
	if got := complete(t, b.String(), "--root", ""); slices.Contains(got, "auto") {
		t.Errorf("--root offered --color's values: %q", got)
	}
	if got := complete(t, b.String(), "sec"); len(got) != 0 {
		t.Errorf("hidden command offered: %q", got)
	}
}

func TestCompletionShells(t *testing.T) {
	for _, sh := range []struct{ name, short, values string }{
		{"zsh", " -o ", "compadd auto always never"},
		{"fish", "-l option -s o", "-l color -l colour -x -a 'auto always never'"},
	} {
		var b bytes.Buffer
		if err := Completion(&b, app(t), sh.name); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"install", "publish", "no-scripts", "keyring", sh.short, sh.values} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s completion lacks %q:\n%s", sh.name, want, b.String())
			}
		}
		if strings.Contains(b.String(), "secret") {
			t.Errorf("%s completion offers a hidden command", sh.name)
		}
	}
	if err := Completion(new(bytes.Buffer), app(t), "csh"); err == nil || !strings.Contains(err.Error(), "csh") {
		t.Errorf("unknown shell: %v", err)
	}
}

func TestManPage(t *testing.T) {
	var a, b bytes.Buffer
	if err := ManPage(&a, app(t), "2026-12-07", []string{"0\tsuccess", "1\tfailure"}, Section{"Configuration", "In a file.", []Item{{"A::B", "a setting"}}}); err != nil {
		t.Fatal(err)
	}
	if err := ManPage(&b, app(t), "2026-12-07", []string{"0\tsuccess", "1\tfailure"}, Section{"Configuration", "In a file.", []Item{{"A::B", "a setting"}}}); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatal("two renderings of one model differ: the page is not reproducible")
	}
	page := a.String()
	for _, want := range []string{
		`.TH GREY 1 "2026-12-07"`,
		".SS install PACKAGES...\n",
		`.B \-\-no\-scripts`,
		".SS repo publish\n",
		`.B \-\-out DIR`,
		`.B \-\-yes, \-y`,
		`.B \-\-option, \-o NAME=VALUE`,
		".SH CONFIGURATION\nIn a file.\n.TP\n.B A::B\na setting\n.SH EXIT STATUS\n.TP\n.B 0\nsuccess\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "secret") {
		t.Error("man page shows a hidden command")
	}
	if man, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command(man, "--warnings", "-l", "-")
		cmd.Stdin = strings.NewReader(page)
		cmd.Env = append(cmd.Environ(), "MANPAGER=cat", "MANWIDTH=80")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "warning") {
			t.Errorf("man -l: %v\n%s", err, out)
		}
	}
}
