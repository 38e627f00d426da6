package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
)

// VersionCmd prints the program version.
type VersionCmd struct{}

// Run prints the module version recorded by the Go toolchain.
func (VersionCmd) Run(g *Globals) error {
	v := "(devel)"
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
	}
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(map[string]string{"version": v, "go": goVersion})
	}
	_, err := fmt.Fprintf(g.Stdout, "grey %s (%s)\n", v, goVersion)
	return err
}
