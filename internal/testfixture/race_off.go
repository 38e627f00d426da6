//go:build !race

package testfixture

// RaceEnabled reports whether the test binary was built with -race.
const RaceEnabled = false
