package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// grey runs the CLI in-process and returns its exit status and output.
func grey(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func() time.Time {
		return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	})
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := grey(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "grey ") {
		t.Fatalf("grey version = %d %q", code, out)
	}
	code, out, _ = grey(t, "", "--json", "version")
	if code != 0 || !strings.Contains(out, `"version"`) {
		t.Fatalf("grey --json version = %d %q", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, errOut := grey(t, "", "frobnicate")
	if code != 2 || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("unknown command: code %d, stderr %q", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := grey(t, "", "--help")
	if code != 0 || !strings.Contains(out, "version") {
		t.Fatalf("--help: code %d, out %q", code, out)
	}
}
