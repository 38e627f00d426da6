package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/transaction"
)

// ArchCmd lists and changes the root's architectures, sharing dpkg's
// var/lib/dpkg/arch.
type ArchCmd struct {
	List   ArchListCmd   `cmd:"" default:"withargs" help:"List the native and foreign architectures (the default)."`
	Add    ArchAddCmd    `cmd:"" help:"Add a foreign architecture (as dpkg --add-architecture)."`
	Remove ArchRemoveCmd `cmd:"" help:"Remove a foreign architecture no package uses (as dpkg --remove-architecture)."`
}

// Help explains the file.
func (ArchCmd) Help() string {
	return `The root's architectures are dpkg's: the native one (the host's), then the
foreign ones listed in ROOT/var/lib/dpkg/arch, the file dpkg
--add-architecture writes, so grey, dpkg and apt agree. "grey update"
fetches the index of every one.`
}

// ArchListCmd lists the architectures.
type ArchListCmd struct{}

// Run lists, native first.
func (c *ArchListCmd) Run(ctx context.Context, g *Globals) error {
	list, err := transaction.Architectures(g.Root)
	if err != nil {
		return err
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, list)
	}
	for _, a := range list {
		fmt.Fprintln(g.Stdout, a)
	}
	return nil
}

// ArchAddCmd adds a foreign architecture.
type ArchAddCmd struct {
	Arch string `arg:"" help:"Debian architecture name (i386, armhf, arm64, ...)."`
}

// Run adds.
func (c *ArchAddCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openRoot(ctx, g, false)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := transaction.AddArchitecture(root.Dir, c.Arch); err != nil {
		return &exitError{Code: 2, Err: err}
	}
	return nil
}

// ArchRemoveCmd removes a foreign architecture.
type ArchRemoveCmd struct {
	Arch string `arg:"" help:"Foreign architecture to remove."`
}

// Run removes.
func (c *ArchRemoveCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openRoot(ctx, g, false)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := transaction.RemoveArchitecture(root.DB, root.Dir, c.Arch); err != nil {
		if errors.Is(err, transaction.ErrArchInUse) {
			return &exitError{Code: 1, Err: err}
		}
		return &exitError{Code: 2, Err: err}
	}
	return nil
}
