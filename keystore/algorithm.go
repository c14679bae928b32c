package keystore

import (
	"fmt"
	"strconv"
	"strings"
)

// algorithmNames are the names of the algorithms vauth supports, in its
// order of preference: ES256 first (every relying party takes it), then
// EdDSA (compact and fast), ES384 and ES512, the RSA algorithms (large keys
// and credential IDs, slow key generation), and ES256K last (WebAuthn does
// not list it among the algorithms a relying party should accept).
var algorithmNames = []struct {
	alg  int
	name string
}{
	{ES256, "ES256"}, {EdDSA, "EdDSA"}, {ES384, "ES384"}, {ES512, "ES512"},
	{RS256, "RS256"}, {PS256, "PS256"}, {ES256K, "ES256K"},
}

// Preferred lists every algorithm vauth supports, most preferred first.
func Preferred() []int {
	algs := make([]int, len(algorithmNames))
	for i, a := range algorithmNames {
		algs[i] = a.alg
	}
	return algs
}

// AlgorithmName names a COSE algorithm as the IANA registry does
// ("ES256"), or gives its number when vauth does not support it.
func AlgorithmName(alg int) string {
	for _, a := range algorithmNames {
		if a.alg == alg {
			return a.name
		}
	}
	return strconv.Itoa(alg)
}

// ParseAlgorithm reads an algorithm vauth supports by its name, in any
// case ("es256"), or by its COSE number ("-7").
func ParseAlgorithm(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, numErr := strconv.Atoi(s)
	for _, a := range algorithmNames {
		if strings.EqualFold(s, a.name) || (numErr == nil && n == a.alg) {
			return a.alg, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %s, or its COSE number)", ErrUnsupportedAlgorithm, s, strings.Join(names(), ", "))
}

// ParseAlgorithms reads a comma-separated list of algorithms, as
// ParseAlgorithm does each; a name given twice is an error.
func ParseAlgorithms(list string) ([]int, error) {
	var algs []int
	for part := range strings.SplitSeq(list, ",") {
		alg, err := ParseAlgorithm(part)
		if err != nil {
			return nil, err
		}
		for _, have := range algs {
			if have == alg {
				return nil, fmt.Errorf("algorithm %s is listed twice", AlgorithmName(alg))
			}
		}
		algs = append(algs, alg)
	}
	return algs, nil
}

func names() []string {
	out := make([]string, len(algorithmNames))
	for i, a := range algorithmNames {
		out[i] = a.name
	}
	return out
}
