package repo

import (
	"sync"
	"time"
)

// MemoryStore is a ReleaseStore kept in memory, for callers that verify
// metadata once and keep no root (tests, one-off resolution). It forgets
// everything with the process, so it cannot refuse a replayed older Release
// across runs: a root's own store (pkgdb) is what does that. The zero value
// is ready to use.
type MemoryStore struct {
	mu    sync.Mutex
	dates map[string]time.Time
}

// LastAccepted returns the last accepted Date of the source.
func (m *MemoryStore) LastAccepted(sourceID string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.dates[sourceID]
	return t, ok, nil
}

// Accept records date as the last accepted Date of the source.
func (m *MemoryStore) Accept(sourceID string, date time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dates == nil {
		m.dates = map[string]time.Time{}
	}
	m.dates[sourceID] = date
	return nil
}
