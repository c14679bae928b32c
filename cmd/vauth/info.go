package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
)

// infoReport is `vauth info`: the authenticator's getInfo and where it
// keeps its credentials.
type infoReport struct {
	Store    string       `json:"store"`
	Keystore string       `json:"keystore"`
	AAGUID   string       `json:"aaguid"`
	Info     *client.Info `json:"getInfo"`
}

func newInfoCmd(g *globals) *cobra.Command {
	var (
		af     authFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the authenticator's getInfo and its store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := af.options(g)
			if err != nil {
				return err
			}
			opts.Presence = presence.Never() // info asks the user nothing
			d, err := daemon.Open(opts)
			if err != nil {
				return err
			}
			defer d.Close()
			inf, err := client.New(client.Direct(d.Authenticator)).GetInfo(cmd.Context())
			if err != nil {
				return err
			}
			var aaguid [16]byte
			copy(aaguid[:], inf.AAGUID)
			r := infoReport{Store: opts.Store, Keystore: d.Keystore.Backend(), AAGUID: attestation.FormatAAGUID(aaguid), Info: inf}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			printInfo(cmd.OutOrStdout(), r)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printInfo(w io.Writer, r infoReport) {
	inf := r.Info
	row := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k, v) }
	row("store", r.Store)
	row("keystore", r.Keystore)
	row("AAGUID", r.AAGUID)
	row("versions", strings.Join(inf.Versions, ", "))
	var algs []string
	for _, a := range inf.Algorithms {
		switch a.Alg {
		case cose.AlgES256:
			algs = append(algs, "ES256")
		case cose.AlgEdDSA:
			algs = append(algs, "EdDSA")
		default:
			algs = append(algs, fmt.Sprint(a.Alg))
		}
	}
	row("algorithms", strings.Join(algs, ", "))
	var opts []string
	for _, k := range sortedKeys(inf.Options) {
		opts = append(opts, fmt.Sprintf("%s=%v", k, inf.Options[k]))
	}
	row("options", strings.Join(opts, " "))
	if len(inf.Extensions) > 0 {
		row("extensions", strings.Join(inf.Extensions, ", "))
	}
	row("transports", strings.Join(inf.Transports, ", "))
	row("max message size", fmt.Sprintf("%d bytes", inf.MaxMsgSize))
	row("max credential ID", fmt.Sprintf("%d bytes, %d per list", inf.MaxCredentialIDLength, inf.MaxCredentialCountInList))
	if inf.RemainingDiscoverableCredentials != nil {
		row("room for passkeys", fmt.Sprint(*inf.RemainingDiscoverableCredentials))
	}
}
