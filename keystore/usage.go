package keystore

import "time"

// UsageReader is what a backend that tracks credential use can tell about
// one credential: its signature counter and when it last signed. It is
// optional: callers type-assert a Keystore to it (the CLI's `creds list`
// does), and show nothing where a backend does not implement it.
type UsageReader interface {
	// Usage returns the credential's current signature counter (the last
	// value NextCounter handed out, or a value at most one reserved block
	// above it, see the backend's documentation) and when it last signed:
	// 0 and the zero time when it never has. ErrNotFound for a discoverable
	// credential the store does not hold.
	Usage(id []byte) (counter uint32, lastUsed time.Time, err error)
}
