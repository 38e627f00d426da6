//go:build !race

package edsp

const raceEnabled = false
