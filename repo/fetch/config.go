package fetch

import (
	"fmt"
	"time"

	"github.com/greypm/grey/internal/config"
)

// The configuration settings (ROOT/etc/grey/grey.conf, apt.conf syntax)
// that FromConfig reads; docs/repositories.md describes them.
const (
	KeyHTTPProxy     = "Acquire::http::Proxy"  // also Acquire::http::Proxy::HOST
	KeyHTTPSProxy    = "Acquire::https::Proxy" // also Acquire::https::Proxy::HOST
	KeyNoProxy       = "Acquire::No-Proxy"
	KeyCAFile        = "Acquire::https::CAInfo"
	KeyTimeout       = "Acquire::http::Timeout" // seconds; Acquire::https::Timeout when this is unset
	KeyLowSpeedLimit = "Acquire::http::Low-Speed-Limit"
	KeyLowSpeedTime  = "Acquire::http::Low-Speed-Time" // seconds
	KeyMaxTime       = "Acquire::http::Max-Time"       // seconds per file
	KeyRetries       = "Acquire::Retries"
)

// FromConfig returns the network settings and the Client options that a
// configuration gives (with the environment's proxies where it gives
// none), to pass to NewHTTPClient and New:
//
//	n, opts, err := fetch.FromConfig(cfg)
//	hc, err := fetch.NewHTTPClient(n)
//	c := fetch.New(append(opts, fetch.WithHTTPClient(hc))...)
//
// Settings left out keep New's defaults. A value that is not a number
// where one is wanted is an error naming the file, line and setting.
func FromConfig(c *config.Config) (Network, []Option, error) {
	n := Network{
		HTTPProxy:  c.String(KeyHTTPProxy),
		HTTPSProxy: c.String(KeyHTTPSProxy),
		NoProxy:    c.String(KeyNoProxy),
		CAFile:     c.String(KeyCAFile),
	}
	if h := c.Under(KeyHTTPProxy); len(h) > 0 {
		n.HostProxy = h
	}
	if h := c.Under(KeyHTTPSProxy); len(h) > 0 {
		n.HTTPSHostProxy = h
	}
	var opts []Option
	timeoutKey := KeyTimeout
	if _, ok := c.Get(KeyTimeout); !ok {
		timeoutKey = "Acquire::https::Timeout"
	}
	timeout, err := c.Seconds(timeoutKey)
	if err != nil {
		return Network{}, nil, err
	}
	if timeout > 0 {
		n.Timeout = timeout
		opts = append(opts, WithReadTimeout(timeout))
	}
	_, limitSet := c.Get(KeyLowSpeedLimit)
	_, timeSet := c.Get(KeyLowSpeedTime)
	if limitSet || timeSet {
		limit, err := c.Int(KeyLowSpeedLimit)
		if err != nil {
			return Network{}, nil, err
		}
		window, err := c.Seconds(KeyLowSpeedTime)
		if err != nil {
			return Network{}, nil, err
		}
		if !limitSet {
			limit = DefaultLowSpeedLimit
		}
		if !timeSet {
			window = DefaultLowSpeedTime
		}
		opts = append(opts, WithLowSpeed(limit, window))
	}
	if _, ok := c.Get(KeyMaxTime); ok {
		d, err := c.Seconds(KeyMaxTime)
		if err != nil {
			return Network{}, nil, err
		}
		opts = append(opts, WithDeadline(d))
	}
	if _, ok := c.Get(KeyRetries); ok {
		r, err := c.Int(KeyRetries)
		if err != nil {
			return Network{}, nil, err
		}
		if r > 100 {
			return Network{}, nil, fmt.Errorf("%s: %s %d: at most 100 retries", c.Path, KeyRetries, r)
		}
		opts = append(opts, WithRetries(int(r)+1, 500*time.Millisecond))
	}
	return n, opts, nil
}

// NewFromConfig returns a Client set up by the configuration, then by
// opts (which win).
func NewFromConfig(c *config.Config, opts ...Option) (*Client, error) {
	n, copts, err := FromConfig(c)
	if err != nil {
		return nil, err
	}
	hc, err := NewHTTPClient(n)
	if err != nil {
		where := "the environment"
		if c.Path != "" {
			where = c.Path + " or the environment"
		}
		return nil, fmt.Errorf("network settings (%s): %w", where, err)
	}
	return New(append(append(copts, WithHTTPClient(hc)), opts...)...), nil
}
