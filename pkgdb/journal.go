package pkgdb

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The journal bucket (schema version 3) holds at most one entry, under
// keyJournal: the transaction that is changing the root's files now. It is
// written before the first rename and deleted in the write transaction
// that finishes the change, so an entry found when a root is opened is an
// interrupted transaction (see package transaction's Recover).
var (
	bucketJournal = []byte("journal")
	keyJournal    = []byte("current")
)

// Journal phases.
const (
	// JournalRenaming: the staged files are complete and durable; renames
	// and removals may have started; the installed set in the database is
	// still the one before. Recovery undoes the transaction.
	JournalRenaming = "renaming"
	// JournalCommitted: the database holds the new installed set; what is
	// left (info files of removed packages, the content store) is finished
	// by recovery.
	JournalCommitted = "committed"
)

// PathState is what one path in the root was before a transaction: enough
// to put it back (a regular file's content is in the content store under
// File.SHA256).
type PathState struct {
	// Rel is the path's host location relative to the root, with a
	// leading slash and every directory above it resolved ("/usr/bin/x").
	Rel string `json:"rel"`
	// Exists is false for a path the transaction creates.
	Exists bool `json:"exists"`
	// File is the path's type, mode, owner, size, content hash and link
	// target when Exists.
	File File `json:"file,omitempty"`
	// Copy: restore as a copy, never as a hard link to the store (under
	// /etc and for conffiles, which are edited in place).
	Copy bool `json:"copy,omitempty"`
}

// JournalRemoved is a package a transaction removes, for the finish of a
// committed journal.
type JournalRemoved struct {
	Name     string `json:"name"`
	InfoName string `json:"info_name"`
	// KeepConf: a remove that keeps conffiles leaves .list, .conffiles and
	// .postrm in the info directory.
	KeepConf bool `json:"keep_conf,omitempty"`
}

// Journal is an interrupted transaction's record.
type Journal struct {
	// Summary names what the transaction does ("install hello, upgrade
	// libc6"), for the message recovery prints.
	Summary string `json:"summary"`
	Phase   string `json:"phase"`
	// Staged are the staged names (relative to the root) that a rename
	// has not consumed yet.
	Staged []string `json:"staged"`
	// Created are the directories staging created, in creation order.
	Created []string `json:"created,omitempty"`
	// Paths is the state before of every path the commit may change.
	Paths []PathState `json:"paths"`
	// Admin is dpkg's database (var/lib/dpkg) before, as entries relative
	// to it; regular files have a hard link under AdminCopy.
	Admin     []PathState `json:"admin,omitempty"`
	AdminCopy string      `json:"admin_copy,omitempty"`
	// AdminExisted is false when the root had no var/lib/dpkg.
	AdminExisted bool `json:"admin_existed"`
	// Removed are the removed packages (finish of a committed journal).
	Removed []JournalRemoved `json:"removed,omitempty"`
}

// GetJournal returns the open journal, or nil when no transaction was
// interrupted.
func GetJournal(tx *bolt.Tx) (*Journal, error) {
	b := tx.Bucket(bucketJournal)
	if b == nil {
		return nil, nil
	}
	v := b.Get(keyJournal)
	if v == nil {
		return nil, nil
	}
	var j Journal
	if err := json.Unmarshal(v, &j); err != nil {
		return nil, fmt.Errorf("pkgdb: decode journal: %w", err)
	}
	return &j, nil
}

// PutJournal writes j as the open journal.
func PutJournal(tx *bolt.Tx, j *Journal) error {
	b, err := tx.CreateBucketIfNotExists(bucketJournal)
	if err != nil {
		return fmt.Errorf("pkgdb: journal bucket: %w", err)
	}
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("pkgdb: encode journal: %w", err)
	}
	return b.Put(keyJournal, v)
}

// DeleteJournal closes the open journal.
func DeleteJournal(tx *bolt.Tx) error {
	b := tx.Bucket(bucketJournal)
	if b == nil {
		return nil
	}
	return b.Delete(keyJournal)
}
