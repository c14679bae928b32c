package main

import (
	"maps"
	"slices"
)

// sortedKeys gives map keys in a stable order for printing.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
