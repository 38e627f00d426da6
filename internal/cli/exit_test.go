package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/config"
	"github.com/greypm/grey/internal/testfixture"
)

// TestExitStatusTableMatchesDocs holds docs/cli.md's exit status table to
// the one in code: the same codes, in the same order.
func TestExitStatusTableMatchesDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testfixture.RepoRoot(t), "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Exit status\n")
	if !ok {
		t.Fatal("docs/cli.md has no Exit status section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var docs []string
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(section, -1) {
		docs = append(docs, m[1])
	}
	var code []string
	for _, line := range ExitStatuses() {
		c, _, _ := strings.Cut(line, "\t")
		code = append(code, c)
	}
	if strings.Join(docs, " ") != strings.Join(code, " ") {
		t.Errorf("docs/cli.md lists exit statuses %q, internal/cli %q", docs, code)
	}
	for _, c := range []int{ExitOK, ExitFailed, ExitUsage, ExitNotFound} {
		found := false
		for _, d := range code {
			found = found || d == strconv.Itoa(c)
		}
		if !found {
			t.Errorf("exit status %d has no line in ExitStatuses", c)
		}
	}
}

// TestSettingsTableMatchesDocs holds docs/cli.md's table of settings to
// config.Settings: every setting with its flag and default.
func TestSettingsTableMatchesDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testfixture.RepoRoot(t), "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Configuration\n")
	if !ok {
		t.Fatal("docs/cli.md has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, s := range config.Settings() {
		flag := "`" + s.Flag + "` "
		if s.Flag == "" {
			flag = ""
		}
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(s.Name) + "` \\| " + regexp.QuoteMeta(flag) + "\\| " + regexp.QuoteMeta(s.Default) + " \\|")
		if !row.MatchString(section) {
			t.Errorf("docs/cli.md's Configuration table has no row | `%s` | `%s` | %s |", s.Name, s.Flag, s.Default)
		}
	}
	for _, s := range config.Settings() {
		if s.Name == config.KeyParallelDownloads && s.Default != strconv.Itoa(DefaultJobs) {
			t.Errorf("%s's documented default %s, DefaultJobs %d", s.Name, s.Default, DefaultJobs)
		}
	}
}
