package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestStatusLine reproduces issue 18's "configure [1/22] base-fileschown:
// ...": a script's output written while a status is shown lands on lines
// of its own, whole or in pieces, and the status comes back after it.
func TestStatusLine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(s *StatusLine)
		want  []string
	}{
		{"a whole line", func(s *StatusLine) {
			s.Set("configure [1/22] base-files")
			s.Write([]byte("chown: invalid group\n"))
			s.Set("configure [2/22] bash")
			s.Done()
		}, []string{"chown: invalid group", ""}},
		{"pieces", func(s *StatusLine) {
			s.Set("unpack [1/2] a")
			s.Write([]byte("half "))
			s.Write([]byte("a line"))
			s.Set("unpack [2/2] b")
			s.Write([]byte("more\nand"))
			s.Done()
		}, []string{"half a line", "more", "and", ""}},
		{"only statuses", func(s *StatusLine) {
			s.Set("configure [1/2] a")
			s.Set("configure [2/2] b")
			s.Done()
		}, []string{""}},
		{"shown after output", func(s *StatusLine) {
			s.Set("configure [1/2] a")
			s.Write([]byte("x\n"))
		}, []string{"x", "configure [1/2] a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewStatusLine(&out)
			tc.steps(s)
			got := testfixture.Screen(out.String())
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("screen %q, want %q (raw %q)", got, tc.want, out.String())
			}
		})
	}
}
