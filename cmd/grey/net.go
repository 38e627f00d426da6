package main

import (
	"path/filepath"

	"github.com/greypm/grey/internal/config"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/transaction"
)

// archivesDir returns the archive cache of the root at root: grey.conf's or
// -o's Dir::Cache::archives, as apt reads it (an absolute path as it is, a
// relative one under ROOT/var/cache/grey/), else ROOT/var/cache/grey/archives.
func archivesDir(g *Globals, root string) (string, error) {
	cfg, err := g.Config()
	if err != nil {
		return "", &exitError{Code: 2, Err: err}
	}
	v := cfg.String(config.KeyArchives)
	switch {
	case v == "":
		return filepath.Join(root, transaction.ArchivesDir), nil
	case filepath.IsAbs(v):
		return filepath.Clean(v), nil
	}
	return filepath.Join(root, filepath.Dir(transaction.ArchivesDir), v), nil
}

// newFetcher returns the download client of a command: its proxies, CA
// file, timeouts and retries come from the root's configuration
// (ROOT/etc/grey/grey.conf, with -o settings over it) and the environment (http_proxy, https_proxy,
// no_proxy), then from opts. A bad setting is bad input (exit status 2).
func newFetcher(g *Globals, opts ...fetch.Option) (*fetch.Client, error) {
	cf, err := g.Config()
	if err != nil {
		return nil, &exitError{Code: 2, Err: err}
	}
	c, err := fetch.NewFromConfig(cf, opts...)
	if err != nil {
		return nil, &exitError{Code: 2, Err: err}
	}
	return c, nil
}
