//go:build !race

package repo

// raceEnabled is true under -race, where full-index work is slow.
const raceEnabled = false
