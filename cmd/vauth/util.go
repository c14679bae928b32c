package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// sortedKeys gives map keys in a stable order for printing.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// plural writes n with its noun, "1 credential" or "2 credentials".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
