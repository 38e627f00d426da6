package main

import (
	"github.com/greypm/grey/repo/fetch"
)

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
