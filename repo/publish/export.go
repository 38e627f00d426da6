package publish

import (
	"bytes"
	"time"

	"github.com/greypm/grey/repo/key"
)

// IndexFile is one file a Release lists, with its content: what a program
// that writes its own indexes (a filtered mirror) hands to ReleaseFile.
type IndexFile struct {
	// Path is relative to the suite's directory (dists/SUITE/).
	Path string
	Data []byte
	// MD5 and SHA256 are lower-case hex digests of Data.
	MD5, SHA256 string
}

// CompressIndex returns a plain index and its .gz and .xz forms, as
// Publish writes them.
func CompressIndex(rel string, plain []byte) ([]IndexFile, error) {
	fs, err := compressed(rel, plain)
	if err != nil {
		return nil, err
	}
	out := make([]IndexFile, len(fs))
	for i, f := range fs {
		out[i] = IndexFile{Path: f.rel, Data: f.data, MD5: f.md5, SHA256: f.sha256}
	}
	return out, nil
}

// ReleaseFile renders the Release file Publish would write for opts
// (Suite, Codename, Origin, Label, Description and ValidFor are used) at
// date, listing files.
func ReleaseFile(opts Options, date time.Time, archs, comps []string, files []IndexFile) []byte {
	if opts.Codename == "" {
		opts.Codename = opts.Suite
	}
	fs := make([]indexFile, len(files))
	for i, f := range files {
		fs[i] = indexFile{rel: f.Path, data: f.Data, md5: f.MD5, sha256: f.SHA256}
	}
	return renderRelease(opts, date.UTC().Truncate(time.Second), archs, comps, fs)
}

// SignRelease returns the clearsigned InRelease and the detached
// Release.gpg of a Release file, signed by k at date.
func SignRelease(k *key.Key, rel []byte, date time.Time) (inRelease, detached []byte, err error) {
	date = date.UTC().Truncate(time.Second)
	var in, det bytes.Buffer
	if err := k.ClearSign(&in, rel, date); err != nil {
		return nil, nil, err
	}
	if err := k.DetachSign(&det, rel, date); err != nil {
		return nil, nil, err
	}
	return in.Bytes(), det.Bytes(), nil
}
