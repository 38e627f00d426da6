package main

import (
	"context"
	"fmt"

	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/transaction"
)

// GcCmd frees the content store.
type GcCmd struct {
	Keep   int  `default:"10" help:"Keep what the last N transactions need, so rollback to them stays possible offline."`
	NoWait bool `name:"no-wait" help:"Fail at once if another grey holds the root."`
}

// Help explains what gc keeps.
func (GcCmd) Help() string {
	return `The content store (ROOT/var/lib/grey/store) keeps the contents of files
that transactions replaced or removed, so rollback works offline. gc frees
contents that neither the installed packages nor the last N history entries
need. Rolling back further afterwards needs the packages in the cache
(ROOT/var/cache/grey/archives); grey names what is missing and changes
nothing when they are not there.`
}

// Run frees and reports.
func (c *GcCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openRoot(ctx, g, c.NoWait)
	if err != nil {
		return err
	}
	defer root.Close()
	res, err := transaction.GC(ctx, root.Dir, root.DB, c.Keep)
	if err != nil {
		return err
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, res)
	}
	fmt.Fprintf(g.Stdout, "Freed %d content(s), %d bytes; %d kept.\n", res.Freed, res.Bytes, res.Kept)
	return nil
}
