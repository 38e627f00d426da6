package fetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
)

// Direct is the proxy value that means "no proxy", as apt's
// Acquire::http::Proxy "DIRECT": it overrides the environment.
const Direct = "DIRECT"

// Network is how a Client reaches http(s) servers: proxies, the trusted
// certificate authorities and the connection timeouts. Its zero value is
// the environment's proxies and the system's CAs.
type Network struct {
	// HTTPProxy and HTTPSProxy are the proxy URLs for http:// and https://
	// downloads; "" takes http_proxy and https_proxy from the environment
	// (HTTP_PROXY, HTTPS_PROXY too), Direct means none. A proxy URL
	// without a scheme is taken as http://.
	HTTPProxy, HTTPSProxy string
	// NoProxy lists the hosts reached without a proxy, as no_proxy does
	// (comma-separated names, ".domain" suffixes, IP addresses and CIDR
	// ranges, "*" for all); "" takes no_proxy (NO_PROXY) from the
	// environment. Loopback addresses and localhost are never proxied.
	NoProxy string
	// HostProxy and HTTPSHostProxy override the proxy of http:// and
	// https:// downloads from single hosts, as apt's
	// Acquire::http::Proxy::HOST and Acquire::https::Proxy::HOST: a proxy
	// URL, or Direct.
	HostProxy, HTTPSHostProxy map[string]string
	// CAFile is a PEM file of the certificate authorities trusted for
	// https://, in place of the system's (as apt's Acquire::https::CAInfo
	// and curl's --cacert); "" means the system's.
	CAFile string
	// Timeout bounds connecting, the TLS handshake and the wait for the
	// response headers, each (0: 30 s, 15 s and 30 s).
	Timeout time.Duration
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Default connection timeouts of NewHTTPClient.
const (
	defaultDialTimeout   = 30 * time.Second
	defaultTLSTimeout    = 15 * time.Second
	defaultHeaderTimeout = 30 * time.Second
)

// NewHTTPClient returns an http.Client that reaches servers as n says,
// with connect, TLS and response-header timeouts, so a dead server fails
// an attempt instead of hanging it (body reads are bounded by the Client's
// read timeout and low-speed limit).
func NewHTTPClient(n Network) (*http.Client, error) {
	proxy, err := n.proxyFunc()
	if err != nil {
		return nil, err
	}
	dial, tlsTimeout, header := defaultDialTimeout, defaultTLSTimeout, defaultHeaderTimeout
	if n.Timeout > 0 {
		dial, tlsTimeout, header = n.Timeout, n.Timeout, n.Timeout
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   tlsTimeout,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // byte ranges and hashes are of the file as stored
	}
	if n.CAFile != "" {
		pool, err := loadCAFile(n.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// loadCAFile reads a PEM file of CA certificates.
func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// proxyFunc merges the settings with the environment and returns the
// Transport's Proxy function.
func (n Network) proxyFunc() (func(*http.Request) (*url.URL, error), error) {
	getenv := n.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(names ...string) string {
		for _, name := range names {
			if v := getenv(name); v != "" {
				return v
			}
		}
		return ""
	}
	pick := func(set string, names ...string) string {
		switch {
		case strings.EqualFold(set, Direct):
			return ""
		case set != "":
			return set
		}
		return env(names...)
	}
	cfg := httpproxy.Config{
		HTTPProxy:  pick(n.HTTPProxy, "http_proxy", "HTTP_PROXY"),
		HTTPSProxy: pick(n.HTTPSProxy, "https_proxy", "HTTPS_PROXY"),
		NoProxy:    n.NoProxy,
	}
	if cfg.NoProxy == "" {
		cfg.NoProxy = env("no_proxy", "NO_PROXY")
	}
	for _, p := range []struct {
		what string
		v    *string
	}{{"http proxy", &cfg.HTTPProxy}, {"https proxy", &cfg.HTTPSProxy}} {
		if *p.v == "" {
			continue
		}
		u, err := checkProxyURL(*p.v)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", p.what, *p.v, err)
		}
		*p.v = u.String()
	}
	hosts := map[string]map[string]*url.URL{}
	for scheme, m := range map[string]map[string]string{"http": n.HostProxy, "https": n.HTTPSHostProxy} {
		hosts[scheme] = map[string]*url.URL{}
		for h, v := range m {
			if strings.EqualFold(v, Direct) {
				hosts[scheme][strings.ToLower(h)] = nil
				continue
			}
			u, err := checkProxyURL(v)
			if err != nil {
				return nil, fmt.Errorf("%s proxy for %s %q: %w", scheme, h, v, err)
			}
			hosts[scheme][strings.ToLower(h)] = u
		}
	}
	byEnv := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) {
		if u, ok := hosts[r.URL.Scheme][strings.ToLower(r.URL.Hostname())]; ok {
			return u, nil
		}
		return byEnv(r.URL)
	}, nil
}

// checkProxyURL parses a proxy setting, refusing one that is not a usable
// URL, so a typo fails with a message instead of silently going direct.
func checkProxyURL(v string) (*url.URL, error) {
	u, err := parseProxy(v)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("unsupported proxy scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

// parseProxy parses a proxy URL; without a scheme it is http://, as for
// curl and Go's own environment proxies (but a URL with a scheme that does
// not parse is refused, not read again with one).
func parseProxy(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	return url.Parse(v)
}
