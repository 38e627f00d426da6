package repo

import (
	"context"
	"errors"
	"time"

	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/repo/release"
	"github.com/greypm/grey/repo/sources"
)

// VerifyOptions configure VerifyRelease.
type VerifyOptions struct {
	// Now is the clock for Valid-Until, Date and key validity checks.
	Now func() time.Time
	// Fetcher downloads; nil means fetch.New().
	Fetcher Fetcher
	// Architectures are those of a source without an arch option (they
	// expand $(ARCH) in a suite); nil means the host's.
	Architectures []string
	// MaxFutureSkew overrides DefaultMaxFutureSkew when positive.
	MaxFutureSkew time.Duration
	// Last is the Date of the last Release the caller accepted for this
	// source (zero: none); an older one is refused as a rollback.
	Last time.Time
	// Keyrings, when set, keeps each keyring parsed once across calls
	// (reading Debian's keyring checks every self-signature in it, which
	// costs more than checking a Release); nil parses them per call.
	Keyrings *Keyrings
}

// Keyrings caches parsed signed-by keyrings for VerifyRelease.
type Keyrings struct{ k keyrings }

// NewKeyrings returns an empty cache.
func NewKeyrings() *Keyrings { return &Keyrings{k: keyrings{files: map[string]*keyringFile{}}} }

// VerifiedRelease is a Release fetched and checked exactly as Update
// checks it.
type VerifiedRelease struct {
	// Dist is the suite's directory URL, ending in "/".
	Dist string
	// URL is where the Release text came from (InRelease, or Release when
	// there is no InRelease); SigURL is Release.gpg's, or "".
	URL, SigURL string
	// Raw is the file at URL as fetched; Sig is Release.gpg's content.
	Raw, Sig []byte
	Release  *release.Release
	// Signer is the primary key fingerprint of the signature's key.
	Signer string
}

// fixedStore is a ReleaseStore that knows one date and records nothing.
type fixedStore struct{ last time.Time }

func (s fixedStore) LastAccepted(string) (time.Time, bool, error) {
	return s.last, !s.last.IsZero(), nil
}

func (fixedStore) Accept(string, time.Time) error { return nil }

// fetchDefaults fills the options Update and VerifyRelease share where the
// caller left them unset: fetch.New(), the host's architecture and
// DefaultMaxFutureSkew.
func fetchDefaults(f *Fetcher, archs *[]string, skew *time.Duration) {
	if *f == nil {
		*f = fetch.New()
	}
	if *archs == nil {
		*archs = []string{HostArch()}
	}
	if *skew <= 0 {
		*skew = DefaultMaxFutureSkew
	}
}

// VerifyRelease fetches the signed Release of one source and applies every
// check Update applies before it stores anything: the signature against
// the source's signed-by keyring, trusted=, Valid-Until and its options,
// a Date not in the future, the suite, and no rollback past opts.Last.
// A failed check is a *RefusedError, a failed download a *FetchError.
// Programs that keep their own copy of an archive (a mirror) use it so
// that they trust exactly what grey update trusts.
func VerifyRelease(ctx context.Context, src *sources.Source, opts VerifyOptions) (*VerifiedRelease, error) {
	if opts.Now == nil {
		return nil, errors.New("verify release: no clock")
	}
	fetchDefaults(&opts.Fetcher, &opts.Architectures, &opts.MaxFutureSkew)
	if opts.Keyrings == nil {
		opts.Keyrings = NewKeyrings()
	}
	groups, results := groupSources([]*sources.Source{src}, opts.Architectures)
	if len(groups) == 0 {
		return nil, errors.New("verify release: " + src.String() + " is not a binary (deb) source")
	}
	if results[0].Err != nil {
		return nil, results[0].Err
	}
	u := &updater{
		opts: Options{Now: opts.Now, Fetcher: opts.Fetcher, MaxFutureSkew: opts.MaxFutureSkew, Store: fixedStore{opts.Last}, Architectures: opts.Architectures},
		g:    groups[0],
		keys: &opts.Keyrings.k,
		now:  opts.Now(),
	}
	dist := src.DistURL(u.g.archs0()).String()
	sr, err := u.fetchRelease(ctx, dist)
	if err != nil {
		return nil, err
	}
	if err := u.check(sr, nil); err != nil {
		return nil, err
	}
	return &VerifiedRelease{Dist: dist, URL: sr.url, SigURL: sr.sigURL, Raw: sr.raw, Sig: sr.sig, Release: sr.rel, Signer: sr.signer}, nil
}
