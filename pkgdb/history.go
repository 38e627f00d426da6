package pkgdb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// History buckets (schema version 3):
//
//	history    id (8 bytes big-endian) → JSON HistoryEntry
//	snapshots  SHA256 of the JSON → JSON Snapshot (one installed package
//	           as it was at some point: its record and its info files'
//	           content hashes), shared by every entry that refers to it
var (
	bucketHistory   = []byte("history")
	bucketSnapshots = []byte("snapshots")
)

// Snapshot is one installed package at one point in time: enough to put it
// back from the content store (its files' contents and its info files'
// contents are stored by SHA256).
type Snapshot struct {
	Package *Package `json:"package"`
	// Info maps an info file's extension ("postinst", "md5sums") to the
	// SHA256 of its content in the content store.
	Info map[string]string `json:"info,omitempty"`
}

// HistoryEntry is one transaction.
type HistoryEntry struct {
	// ID increases by one per transaction, from 1.
	ID      uint64    `json:"id"`
	Time    time.Time `json:"time"`
	Command []string  `json:"command,omitempty"`
	User    string    `json:"user,omitempty"`
	// World is the requested set after the transaction: the packages
	// installed manually.
	World []string `json:"world"`
	// Before and After map package names to versions (config-files
	// packages are not in them).
	Before map[string]string `json:"before"`
	After  map[string]string `json:"after"`
	// Snapshots maps every package record after the transaction (config
	// files packages included) to its snapshot key.
	Snapshots map[string]string `json:"snapshots"`
	// TreeHash is the hash of the managed paths after the transaction (see
	// package transaction's TreeHash).
	TreeHash string `json:"tree_hash"`
	// Failed lists the packages whose maintainer scripts failed and the
	// state each was left in; empty when everything was configured.
	Failed []HistoryFailure `json:"failed,omitempty"`
}

// HistoryFailure is one package a transaction left short of installed
// (or removed): a script failed, or a dependency of it did.
type HistoryFailure struct {
	Package string `json:"package"`
	// Status is the package's dpkg Status afterwards
	// ("install ok half-configured").
	Status string `json:"status"`
	Error  string `json:"error"`
}

// PutSnapshot stores s and returns its key.
func PutSnapshot(tx *bolt.Tx, s *Snapshot) (string, error) {
	v, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("pkgdb: encode snapshot of %s: %w", s.Package.Name, err)
	}
	return putSnapshot(tx, s.Package.Name, v)
}

// PutSnapshotEncoded stores the snapshot of the record whose stored form
// is rec (EncodePackages), with its info files, and returns its key: the
// same bytes and key as PutSnapshot's, without encoding or copying the
// record again. rec is the snapshot's until the transaction ends.
func PutSnapshotEncoded(tx *bolt.Tx, name string, rec Encoded, info map[string]string) (string, error) {
	v := rec.buf
	if len(info) > 0 {
		raw, err := json.Marshal(info)
		if err != nil {
			return "", fmt.Errorf("pkgdb: encode snapshot of %s: %w", name, err)
		}
		v = append(append(v, `,"info":`...), raw...)
	}
	v = append(v, '}')
	return putSnapshot(tx, name, v)
}

func putSnapshot(tx *bolt.Tx, name string, v []byte) (string, error) {
	sum := sha256.Sum256(v)
	key := hex.EncodeToString(sum[:])
	b, err := tx.CreateBucketIfNotExists(bucketSnapshots)
	if err != nil {
		return "", fmt.Errorf("pkgdb: snapshots bucket: %w", err)
	}
	if b.Get([]byte(key)) == nil {
		if err := b.Put([]byte(key), v); err != nil {
			return "", fmt.Errorf("pkgdb: store snapshot of %s: %w", name, err)
		}
	}
	return key, nil
}

// GetSnapshot returns the snapshot stored under key.
func GetSnapshot(tx *bolt.Tx, key string) (*Snapshot, error) {
	b := tx.Bucket(bucketSnapshots)
	var v []byte
	if b != nil {
		v = b.Get([]byte(key))
	}
	if v == nil {
		return nil, fmt.Errorf("pkgdb: no snapshot %s", key)
	}
	var s Snapshot
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("pkgdb: decode snapshot %s: %w", key, err)
	}
	return &s, nil
}

// AppendHistory stores e under the next id, which it sets and returns.
func AppendHistory(tx *bolt.Tx, e *HistoryEntry) (uint64, error) {
	b, err := tx.CreateBucketIfNotExists(bucketHistory)
	if err != nil {
		return 0, fmt.Errorf("pkgdb: history bucket: %w", err)
	}
	id, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("pkgdb: history id: %w", err)
	}
	e.ID = id
	v, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("pkgdb: encode history entry: %w", err)
	}
	return id, b.Put(binary.BigEndian.AppendUint64(nil, id), v)
}

// PutHistory replaces entry e.ID (a transaction's entry is completed
// after its scripts ran).
func PutHistory(tx *bolt.Tx, e *HistoryEntry) error {
	b, err := tx.CreateBucketIfNotExists(bucketHistory)
	if err != nil {
		return fmt.Errorf("pkgdb: history bucket: %w", err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("pkgdb: encode history entry: %w", err)
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, e.ID), v)
}

// History returns every entry, oldest first.
func History(tx *bolt.Tx) ([]*HistoryEntry, error) {
	b := tx.Bucket(bucketHistory)
	if b == nil {
		return nil, nil
	}
	var out []*HistoryEntry
	err := b.ForEach(func(k, v []byte) error {
		var e HistoryEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("pkgdb: decode history entry %x: %w", k, err)
		}
		out = append(out, &e)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// GetHistory returns entry id, or nil when there is none.
func GetHistory(tx *bolt.Tx, id uint64) (*HistoryEntry, error) {
	b := tx.Bucket(bucketHistory)
	if b == nil {
		return nil, nil
	}
	v := b.Get(binary.BigEndian.AppendUint64(nil, id))
	if v == nil {
		return nil, nil
	}
	var e HistoryEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("pkgdb: decode history entry %d: %w", id, err)
	}
	return &e, nil
}

// EnsureHistoryBuckets creates the journal, history and snapshot buckets
// (migration 2 to 3).
func EnsureHistoryBuckets(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketJournal, bucketHistory, bucketSnapshots} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("pkgdb: create bucket %s: %w", b, err)
		}
	}
	return nil
}

// LastHistory returns the newest entry, or nil when there is none.
func LastHistory(tx *bolt.Tx) (*HistoryEntry, error) {
	b := tx.Bucket(bucketHistory)
	if b == nil {
		return nil, nil
	}
	k, v := b.Cursor().Last()
	if k == nil {
		return nil, nil
	}
	var e HistoryEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("pkgdb: decode history entry %x: %w", k, err)
	}
	return &e, nil
}
