package soft

import "container/list"

// lru is a map of at most size entries that forgets the least recently
// used one to make room: the engine's parsed keys and the open cache's
// plaintexts. Its owner serialises access.
type lru[K comparable, V any] struct {
	size  int
	order *list.List // of *lruEntry[K, V], most recent first
	index map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key   K
	value V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{size: size, order: list.New(), index: make(map[K]*list.Element)}
}

// get returns the value under k and marks it used.
func (c *lru[K, V]) get(k K) (V, bool) {
	el, ok := c.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry[K, V]).value, true
}

// put adds v under k, unless k is there already (then it is marked used),
// and forgets the least recently used entries beyond size.
func (c *lru[K, V]) put(k K, v V) {
	if el, ok := c.index[k]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.index[k] = c.order.PushFront(&lruEntry[K, V]{k, v})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.index, oldest.Value.(*lruEntry[K, V]).key)
	}
}

func (c *lru[K, V]) len() int { return c.order.Len() }

// clear calls each on every value, then forgets them all.
func (c *lru[K, V]) clear(each func(V)) {
	for el := c.order.Front(); el != nil; el = el.Next() {
		each(el.Value.(*lruEntry[K, V]).value)
	}
	c.order.Init()
	clear(c.index)
}
