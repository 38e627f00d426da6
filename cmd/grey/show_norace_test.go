//go:build !race

package main

const showRace = false
