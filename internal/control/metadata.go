package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/vauth/vauth/internal/mds"
)

// MetadataPaths are the routes that serve metadata (FIDO MDS3) to relying
// parties. GETs of the BLOB and root need no bearer token on TCP: they are
// public, signed data, as the real MDS serves them, and a relying party's
// MDS client sends none.
const (
	MetadataBLOBPath = "/v1/metadata/blob"
	MetadataRootPath = "/v1/metadata/root"
)

// metadataSettings holds the BLOB's settings (POST /v1/metadata).
type metadataSettings struct {
	mu sync.Mutex
	s  mds.Settings
}

// MetadataStatement is the metadata statement of the running
// configuration.
func (s *Server) MetadataStatement(ctx context.Context) (*mds.Statement, error) {
	st, err := mds.ForDaemon(ctx, s.d)
	if errors.Is(err, mds.ErrNoMetadata) {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return st, err
}

// Metadata returns the BLOB's settings.
func (s *Server) Metadata() mds.Settings {
	s.metadata.mu.Lock()
	defer s.metadata.mu.Unlock()
	return s.metadata.s
}

// SetMetadata sets which AAGUIDs the BLOB lists and their statuses.
func (s *Server) SetMetadata(set mds.Settings) error {
	if err := set.Check(s.aaguid); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s.metadata.mu.Lock()
	defer s.metadata.mu.Unlock()
	s.metadata.s = set
	return nil
}

// MetadataBLOB returns the metadata BLOB (a JWS) for the settings, or for
// the ones set when set is nil.
func (s *Server) MetadataBLOB(ctx context.Context, set *mds.Settings) ([]byte, error) {
	if set == nil {
		cur := s.Metadata()
		set = &cur
	}
	if err := set.Check(s.aaguid); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	blob, err := mds.BLOB(ctx, s.d, *set, s.now())
	if errors.Is(err, mds.ErrNoMetadata) {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return blob, err
}

// MetadataRoot returns the BLOB root certificate, PEM.
func (s *Server) MetadataRoot() ([]byte, error) {
	ca, err := mds.Root(s.d.Keystore)
	if err != nil {
		return nil, err
	}
	return ca.PEM(), nil
}

// metadataRoutes adds the metadata routes.
func (s *Server) metadataRoutes(route func(string, func(http.ResponseWriter, *http.Request) (any, error))) {
	route("GET /v1/metadata/statement", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		return s.MetadataStatement(r.Context())
	})
	route("GET /v1/metadata", func(http.ResponseWriter, *http.Request) (any, error) { return s.Metadata(), nil })
	route("POST /v1/metadata", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var set mds.Settings
		if err := readJSON(r, &set); err != nil {
			return nil, err
		}
		return nil, s.SetMetadata(set)
	})
	// ?aaguid=A&aaguid=B&status=A=REVOKED override the settings for this
	// BLOB only.
	route("GET "+MetadataBLOBPath, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var set *mds.Settings
		if q := r.URL.Query(); q.Has("aaguid") || q.Has("status") {
			set = &mds.Settings{AAGUIDs: q["aaguid"]}
			for _, st := range q["status"] {
				if err := set.ParseStatus(st); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
				}
			}
		}
		blob, err := s.MetadataBLOB(r.Context(), set)
		if err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/jwt")
		_, _ = w.Write(blob)
		return streamed{}, nil
	})
	route("GET "+MetadataRootPath, func(w http.ResponseWriter, _ *http.Request) (any, error) {
		pem, err := s.MetadataRoot()
		if err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(pem)
		return streamed{}, nil
	})
}

// public reports whether a request may go without the bearer token.
func public(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Path == MetadataBLOBPath || r.URL.Path == MetadataRootPath)
}

// MetadataStatement asks for the metadata statement.
func (c *Client) MetadataStatement(ctx context.Context) (*mds.Statement, error) {
	var v mds.Statement
	return &v, c.call(ctx, http.MethodGet, "/v1/metadata/statement", nil, &v)
}

// SetMetadata sets the AAGUIDs and statuses of the BLOB served.
func (c *Client) SetMetadata(ctx context.Context, set mds.Settings) error {
	return c.call(ctx, http.MethodPost, "/v1/metadata", set, nil)
}

// MetadataBLOB asks for the BLOB: for set, or the one served when set is
// nil.
func (c *Client) MetadataBLOB(ctx context.Context, set *mds.Settings) ([]byte, error) {
	path := MetadataBLOBPath
	if set != nil {
		q := url.Values{"aaguid": set.AAGUIDs}
		for a, st := range set.Status {
			q.Add("status", a+"="+st)
		}
		path += "?" + q.Encode()
	}
	return c.raw(ctx, path)
}

// MetadataRoot asks for the BLOB root certificate, PEM.
func (c *Client) MetadataRoot(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, MetadataRootPath)
}

// raw GETs path and returns the body as it is.
func (c *Client) raw(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
