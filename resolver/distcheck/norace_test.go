//go:build !race

package distcheck

const raceEnabled = false
