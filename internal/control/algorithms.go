package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/vauth/vauth/keystore"
)

// Algorithms is the body and answer of the algorithms operation: the COSE
// algorithms offered for new credentials, in order of preference. Answers
// name them ("ES256"); requests may also give COSE numbers (-257 or
// "-257"). A request with no list (null or absent) offers all the
// keystore makes again.
type Algorithms struct {
	Algorithms AlgorithmNames `json:"algorithms"`
}

// AlgorithmNames are algorithm names, read from JSON strings or numbers.
type AlgorithmNames []string

// UnmarshalJSON implements json.Unmarshaler: a list of names or numbers.
func (a *AlgorithmNames) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		*a = nil
		return err
	}
	names := AlgorithmNames{}
	for _, r := range raw {
		var s string
		var n int
		if json.Unmarshal(r, &s) != nil {
			if err := json.Unmarshal(r, &n); err != nil {
				return fmt.Errorf("algorithm %s: want a name or a COSE number", r)
			}
			s = strconv.Itoa(n)
		}
		names = append(names, s)
	}
	*a = names
	return nil
}

func algorithmNames(algs []int) AlgorithmNames {
	names := AlgorithmNames{}
	for _, alg := range algs {
		names = append(names, keystore.AlgorithmName(alg))
	}
	return names
}

// Algorithms returns the algorithms offered for new credentials.
func (s *Server) Algorithms() Algorithms {
	return Algorithms{Algorithms: algorithmNames(s.d.Authenticator.Algorithms())}
}

// SetAlgorithms restricts or reorders the algorithms offered for new
// credentials (vauth run --algorithms while it runs); nil offers all the
// keystore makes. Credentials made before keep working.
func (s *Server) SetAlgorithms(names AlgorithmNames) error {
	var algs []int
	if names != nil {
		algs = []int{}
		for _, name := range names {
			alg, err := keystore.ParseAlgorithm(name)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			algs = append(algs, alg)
		}
	}
	if err := s.d.Authenticator.SetAlgorithms(algs); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func (s *Server) algorithmRoutes(route func(pattern string, h func(http.ResponseWriter, *http.Request) (any, error))) {
	route("GET /v1/algorithms", func(http.ResponseWriter, *http.Request) (any, error) { return s.Algorithms(), nil })
	route("POST /v1/algorithms", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		var a Algorithms
		if err := readJSON(r, &a); err != nil {
			return nil, err
		}
		return nil, s.SetAlgorithms(a.Algorithms)
	})
}

// Algorithms returns the algorithms offered for new credentials.
func (c *Client) Algorithms(ctx context.Context) (Algorithms, error) {
	var v Algorithms
	return v, c.call(ctx, http.MethodGet, "/v1/algorithms", nil, &v)
}

// SetAlgorithms sets the algorithms offered for new credentials, by name
// or COSE number; nil offers all the keystore makes.
func (c *Client) SetAlgorithms(ctx context.Context, names []string) error {
	return c.call(ctx, http.MethodPost, "/v1/algorithms", Algorithms{Algorithms: names}, nil)
}
