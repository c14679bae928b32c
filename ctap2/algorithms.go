package ctap2

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vauth/vauth/keystore"
)

// checkAlgorithms checks a list of algorithms to offer: not empty, each
// one the keystore makes keys for, none twice.
func checkAlgorithms(ks keystore.Keystore, algs []int) error {
	if len(algs) == 0 {
		return errors.New("ctap2: no credential algorithms")
	}
	supported := ks.Algorithms()
	for i, alg := range algs {
		if !slices.Contains(supported, alg) {
			return fmt.Errorf("ctap2: the %s keystore cannot make %s keys (it makes %s)", ks.Backend(), keystore.AlgorithmName(alg), algorithmNames(supported))
		}
		if slices.Contains(algs[:i], alg) {
			return fmt.Errorf("ctap2: algorithm %s is listed twice", keystore.AlgorithmName(alg))
		}
	}
	return nil
}

func algorithmNames(algs []int) string {
	names := make([]string, len(algs))
	for i, alg := range algs {
		names[i] = keystore.AlgorithmName(alg)
	}
	return strings.Join(names, ", ")
}

// Algorithms returns the COSE algorithms offered for new credentials, in
// order of preference, as getInfo lists them.
func (a *Authenticator) Algorithms() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.algorithms)
}

// SetAlgorithms changes the algorithms offered for new credentials, as
// Config.Algorithms sets them (nil: all of the keystore's), so that a
// relying party's tests can see its fallback when its preferred algorithm
// is missing. Existing credentials of any algorithm keep working.
func (a *Authenticator) SetAlgorithms(algs []int) error {
	if algs == nil {
		algs = a.keystore.Algorithms()
	}
	if err := checkAlgorithms(a.keystore, algs); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.algorithms = slices.Clone(algs)
	return nil
}
