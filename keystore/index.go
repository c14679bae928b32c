package keystore

// Optional interfaces of a Keystore that keep the authenticator fast when
// the store holds many discoverable credentials. A backend implements them
// when it can answer from an index; callers type-assert and otherwise fall
// back to All(), which reads and decodes every record.

// DiscoverableCounter counts discoverable credentials without listing them
// (getInfo's remainingDiscoverableCredentials, makeCredential's capacity
// check, getCredsMetadata).
type DiscoverableCounter interface {
	// CountDiscoverable returns the number of discoverable credentials,
	// len(All()) without decoding them.
	CountDiscoverable() (int, error)
}

// RPLister lists the RPs that have discoverable credentials
// (credential management's enumerateRPs).
type RPLister interface {
	// DiscoverableRPs returns the newest discoverable credential of each
	// RP, newest first: the first credential of each RP in All().
	DiscoverableRPs() ([]*Credential, error)
}

// DiscoverableFinder finds a discoverable credential by its ID alone,
// without knowing its RP (credential management's deleteCredential and
// updateUserInformation).
type DiscoverableFinder interface {
	// FindDiscoverable returns the discoverable credential with this ID,
	// whatever its RP; ErrNotFound when there is none.
	FindDiscoverable(id []byte) (*Credential, error)
}
