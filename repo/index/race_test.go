//go:build race

package index

// raceEnabled keeps the full-fixture tests out of -race runs, which would
// take minutes; the small sources cover the same code under the detector.
const raceEnabled = true
