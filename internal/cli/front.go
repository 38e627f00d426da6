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
		key, _, inline := strings.Cut(a, "=")
		switch {
		case !inline && (a == "--root" || a == "--source" || a == "--option" || a == "-o" || a == "--color" || a == "--colour" ||
			a == "--target-release" || a == "--default-release" || a == "-t"):
			i++ // the value is the next argument
		case inline && (key == "--root" || key == "--source" || key == "--option" || key == "--color" || key == "--colour" || key == "--target-release" || key == "--default-release"),
			strings.HasPrefix(a, "-o") && len(a) > 2, // -oNAME=VALUE
			strings.HasPrefix(a, "-t") && len(a) > 2, // -tRELEASE
			a == "--json", a == "--yes", a == "--assume-yes", a == "-y", a == "-q", a == "-qq", a == "--quiet",
			a == "--dry-run", a == "--simulate", a == "--just-print", a == "--no-act", a == "--recon", a == "-s":
		case strings.HasPrefix(a, "-"):
			return false
		default:
			return a == "show" || a == "search" || a == "policy"
		}
	}
	return false
}
