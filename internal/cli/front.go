package cli

import "strings"

// IsQuery reports whether args (the command line after the program name)
// name one of the Queries, so that the front binary can answer it itself.
// It reads only the global flags that may come before the command; anything
// else before it (--help, an unknown flag, "--") makes it false, and the
// whole tool, which knows every flag, gives the answer or the error.
func IsQuery(args []string) bool {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--root" || a == "--source":
			i++ // the value is the next argument
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--source="),
			a == "--json", a == "--yes", a == "-y", a == "--dry-run", a == "--simulate", a == "-s":
		case strings.HasPrefix(a, "-"):
			return false
		default:
			return a == "show" || a == "search" || a == "policy"
		}
	}
	return false
}
