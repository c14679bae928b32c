package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/internal/decode"
)

func newDecodeCmd() *cobra.Command {
	var (
		publicKey, clientData string
		asJSON                bool
	)
	cmd := &cobra.Command{
		Use:   "decode [FILE]",
		Short: "Decode a WebAuthn object and check its attestation and signature",
		Long: "Decode what a relying party receives, from FILE or stdin (-): a whole\n" +
			"PublicKeyCredential as browsers and toJSON() give it, or a bare attestationObject,\n" +
			"authenticatorData, clientDataJSON or COSE key, in JSON, base64url, base64, hex or raw\n" +
			"bytes. It shows the flags, counter, AAGUID, credential public key, extensions, the\n" +
			"attestation format, statement and certificate chain, and whether the attestation\n" +
			"verifies (go-webauthn's verification, as a relying party does, without a metadata\n" +
			"service) and, given the credential's public key, the assertion signature.\n" +
			"Exit status 1 when a check fails.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := readInput(cmd, args)
			if err != nil {
				return err
			}
			var opts decode.Options
			if publicKey != "" {
				data, err := readFile(publicKey)
				if err != nil {
					return fmt.Errorf("--public-key: %w", err)
				}
				r, err := decode.Decode(data, decode.Options{})
				if err != nil {
					return fmt.Errorf("--public-key %s: %w", publicKey, err)
				}
				if opts.PublicKey = r.CredentialKey(); opts.PublicKey == nil {
					return usageError{fmt.Errorf("--public-key %s holds no public key (it is a %s)", publicKey, r.Kind)}
				}
			}
			if clientData != "" {
				data, err := readFile(clientData)
				if err != nil {
					return fmt.Errorf("--client-data: %w", err)
				}
				r, err := decode.Decode(data, decode.Options{})
				if err != nil || r.ClientData == nil {
					return usageError{fmt.Errorf("--client-data %s is not a clientDataJSON: %v", clientData, err)}
				}
				opts.ClientDataJSON = r.ClientData.JSON()
			}
			r, err := decode.Decode(input, opts)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				r.WriteText(cmd.OutOrStdout())
			}
			if failures := r.Failures(); len(failures) > 0 {
				return errors.New(strings.Join(failures, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&publicKey, "public-key", "", "the credential public key to check an assertion's signature with: PEM, JWK, COSE, or the registration it came from")
	cmd.Flags().StringVar(&clientData, "client-data", "", "the clientDataJSON a bare attestationObject or authenticatorData was signed with")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readInput reads FILE, or stdin when there is none or it is "-".
func readInput(cmd *cobra.Command, args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		return readLimited(cmd.InOrStdin(), "stdin")
	}
	return readFile(args[0])
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path)
}

// readLimited reads at most decode.MaxInput bytes, refusing more.
func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, decode.MaxInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > decode.MaxInput {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a WebAuthn object", name, decode.MaxInput)
	}
	return data, nil
}
