//go:build race

package distcheck

// raceEnabled trims the whole-index tests, which are slow under the race
// detector.
const raceEnabled = true
