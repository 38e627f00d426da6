//go:build race

package archive

// raceEnabled is true when the tests run under the race detector, which
// slows xz decoding tenfold; the slowest checks then use a subset.
const raceEnabled = true
