package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestExampleSpecsParse keeps the shipped example specs valid (demo.yaml
// after the substitutions examples/demo.sh makes).
func TestExampleSpecsParse(t *testing.T) {
	for _, name := range []string{"debian-minimal.yaml", "demo.yaml"} {
		b, err := os.ReadFile(filepath.Join(testfixture.RepoRoot(t), "examples", name))
		must(t, err)
		text := strings.NewReplacer("@REPO@", "/srv/repo", "@ARCH@", "amd64").Replace(string(b))
		s, err := ParseSpec([]byte(text), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(s.Files) == 0 || len(s.Users) == 0 || len(s.Groups) == 0 || s.SourceDateEpoch == 0 {
			t.Errorf("%s: the example should show files, users, groups and source-date-epoch", name)
		}
	}
}
