//go:build race

package edsp

// raceEnabled skips the whole-universe dumps, slow under the race detector.
const raceEnabled = true
