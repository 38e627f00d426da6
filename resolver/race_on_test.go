//go:build race

package resolver

// raceEnabled skips the full-index runs under the race detector, where
// loading 63,440 packages and solving twenty requests takes minutes.
const raceEnabled = true
