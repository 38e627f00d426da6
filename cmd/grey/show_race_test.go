//go:build race

package main

// showRace keeps bookworm main (63,440 packages) out of the CLI index tests
// under -race, where decompressing it alone takes minutes.
const showRace = true
