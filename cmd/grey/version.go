package main

import (
	"encoding/json"
	"fmt"

	"github.com/greypm/grey/internal/cli"
)

// VersionCmd prints the program version.
type VersionCmd struct{}

// Run prints the module version recorded by the Go toolchain.
func (VersionCmd) Run(g *Globals) error {
	v, goVersion := cli.Version()
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(map[string]string{"version": v, "go": goVersion})
	}
	_, err := fmt.Fprintf(g.Stdout, "grey %s (%s)\n", v, goVersion)
	return err
}
