//go:build !race

package vtest

const raceEnabled = false
