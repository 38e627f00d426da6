package transaction

import (
	"errors"
	"testing"
)

// TestScriptErrorMessage: issue 18 saw "postinst configure  failed" (the
// empty version dpkg passes on a first configure made a double space).
func TestScriptErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		e    ScriptError
		want string
	}{
		{ScriptError{Package: "hello", Script: "postinst", Args: []string{"configure", ""}, Err: errors.New("exit status 1")},
			"hello postinst configure failed: exit status 1"},
		{ScriptError{Package: "hello", Script: "postinst", Args: []string{"configure", "1.0"}, Err: errors.New("exit status 1"), Output: "no\n"},
			"hello postinst configure 1.0 failed: exit status 1; it printed:\nno"},
		{ScriptError{Package: "hello", Script: "preinst", Err: errors.New("exit status 2")},
			"hello preinst failed: exit status 2"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
