//go:build race

package vtest

const raceEnabled = true
