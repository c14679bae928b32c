package soft

import "testing"

// TestLRU checks that the entry forgotten to make room is the least
// recently used one, that put keeps a value already there, and that clear
// sees every value.
func TestLRU(t *testing.T) {
	c := newLRU[string, int](2)
	c.put("a", 1)
	c.put("b", 2)
	c.get("a")
	c.put("b", 20) // already there: kept, and now the most recent
	c.put("c", 3)  // forgets a, used before b
	if _, ok := c.get("a"); ok {
		t.Error("a is still there; the least recently used entry should have gone")
	}
	if v, ok := c.get("b"); !ok || v != 2 {
		t.Errorf("b = %d, %t; want 2", v, ok)
	}
	if v, ok := c.get("c"); !ok || v != 3 {
		t.Errorf("c = %d, %t; want 3", v, ok)
	}
	sum := 0
	c.clear(func(v int) { sum += v })
	if sum != 5 || c.len() != 0 || len(c.index) != 0 {
		t.Errorf("clear saw values summing to %d and left %d entries (%d indexed); want 5 and none", sum, c.len(), len(c.index))
	}
}
