package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// Version returns grey's module version as the Go toolchain recorded it
// ("(devel)" for a build from a work tree) and the Go version that built it.
func Version() (version, goVersion string) {
	version = "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		goVersion = bi.GoVersion
	}
	return version, goVersion
}

// VersionFlag is the global --version flag: it prints what `grey version`
// prints and exits 0, as `apt --version` does.
type VersionFlag bool

// BeforeReset prints the version and ends the parse before any command
// runs.
func (VersionFlag) BeforeReset(app *kong.Kong) error {
	v, gov := Version()
	fmt.Fprintf(app.Stdout, "grey %s (%s)\n", v, gov)
	app.Exit(0)
	return nil
}
