package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/decode"
	"github.com/vauth/vauth/keystore"
)

// infoReport is `vauth info`: the authenticator's getInfo, where it keeps
// its credentials, how many, and its PIN state. What a target cannot tell
// is left out.
type infoReport struct {
	Store  string `json:"store,omitempty"`
	Device string `json:"device,omitempty"`
	// Daemon: the store is served by a running vauth, asked through its
	// control socket (which has no getInfo).
	Daemon   bool     `json:"daemon,omitempty"`
	Keystore string   `json:"keystore"`
	TPM      *tpmInfo `json:"tpm,omitempty"`
	// Profile is what the authenticator behaves as (--profile), when it is
	// not the default ctap2.1.
	Profile string `json:"profile,omitempty"`
	AAGUID  string `json:"aaguid"`
	// Credentials and RPs count the discoverable credentials and the
	// relying parties they belong to (a hardware key's only with the PIN
	// given by --pin-file or VAUTH_PIN).
	Credentials *int         `json:"credentials,omitempty"`
	RPs         *int         `json:"rps,omitempty"`
	PIN         *pinStatus   `json:"pin,omitempty"`
	Info        *client.Info `json:"getInfo,omitempty"`
	// Algorithms are the algorithms a running vauth offers, by name, when
	// there is no getInfo to list them.
	Algorithms []string `json:"algorithms,omitempty"`
	// KeystoreAlgorithms are those the keystore makes keys for (a TPM's
	// depend on the TPM), whatever --algorithms offers of them.
	KeystoreAlgorithms []string `json:"keystoreAlgorithms,omitempty"`
}

// tpmInfo names the TPM of a TPM store.
type tpmInfo struct {
	Manufacturer    string `json:"manufacturer"`
	ManufacturerID  string `json:"manufacturerId"`
	Model           string `json:"model,omitempty"`
	FirmwareVersion string `json:"firmwareVersion"`
}

// tpmOf describes the TPM of a TPM keystore; nil for another.
func tpmOf(ks keystore.Keystore) *tpmInfo {
	t, ok := ks.(interface {
		TPMInfo() (uint32, string, uint64, error)
	})
	if !ok {
		return nil
	}
	id, model, fw, err := t.TPMInfo()
	if err != nil {
		return nil
	}
	name := strings.TrimRight(string([]byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}), "\x00 ")
	return &tpmInfo{
		Manufacturer: name, ManufacturerID: fmt.Sprintf("0x%08X", id), Model: model,
		FirmwareVersion: fmt.Sprintf("%d.%d.%d.%d", fw>>48, fw>>32&0xffff, fw>>16&0xffff, fw&0xffff),
	}
}

// tpmNote says how the algorithms offered compare with what the TPM of a
// TPM keystore makes (its TPM2_GetCapability); empty for another keystore.
func (r infoReport) tpmNote(offered []string) string {
	if r.Keystore != "tpm" || len(r.KeystoreAlgorithms) == 0 {
		return ""
	}
	if slices.Equal(offered, r.KeystoreAlgorithms) {
		return " (what this TPM supports)"
	}
	return " (this TPM supports " + strings.Join(r.KeystoreAlgorithms, ", ") + ")"
}

// setInfo records getInfo and the AAGUID it reports.
func (r *infoReport) setInfo(inf *client.Info) {
	r.Info = inf
	var aaguid [16]byte
	copy(aaguid[:], inf.AAGUID)
	r.AAGUID = attestation.FormatAAGUID(aaguid)
}

// setProfile records the profile named name unless it is the default: a
// key that behaves as an older one says so.
func (r *infoReport) setProfile(name string) {
	if name != ctap2.ProfileCTAP21.String() {
		r.Profile = name
	}
}

// count records how many credentials and RPs there are.
func (r *infoReport) count(all []credential) {
	rps := map[string]bool{}
	for _, c := range all {
		rps[c.RPID] = true
	}
	n, m := len(all), len(rps)
	r.Credentials, r.RPs = &n, &m
}

func newInfoCmd(g *globals) *cobra.Command {
	tf := targetFlags{allAuth: true}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the authenticator's getInfo, its store, credentials and PIN state",
		Long: "Show the authenticator: its getInfo (versions, algorithms, options, AAGUID), where it\n" +
			"keeps its credentials (the store and its keystore: soft, or tpm with the TPM's\n" +
			"manufacturer), how many credentials and relying parties it holds, and its PIN state.\n" +
			"With --device, any security key.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, r, err := tf.openDescribed(cmd, g, false)
			if err != nil {
				return err
			}
			defer t.Close()
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			printInfo(cmd.OutOrStdout(), r)
			return nil
		},
	}
	tf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printInfo(w io.Writer, r infoReport) {
	row := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k, v) }
	switch {
	case r.Device != "":
		row("device", r.Device)
	case r.Daemon:
		row("store", r.Store+" (served by a running vauth)")
	default:
		row("store", r.Store)
	}
	if r.Device == "" {
		row("keystore", r.Keystore)
	}
	if r.Profile != "" {
		row("profile", r.Profile)
	}
	if t := r.TPM; t != nil {
		tpm := fmt.Sprintf("%s (%s), firmware %s", t.Manufacturer, t.ManufacturerID, t.FirmwareVersion)
		if t.Model != "" {
			tpm = fmt.Sprintf("%s %s (%s), firmware %s", t.Manufacturer, t.Model, t.ManufacturerID, t.FirmwareVersion)
		}
		row("TPM", tpm)
	}
	row("AAGUID", r.AAGUID)
	if r.Credentials != nil {
		row("credentials", fmt.Sprintf("%s, for %s", plural(*r.Credentials, "discoverable credential"), plural(*r.RPs, "relying party")))
	} else if r.Device != "" {
		row("credentials", "(counting them needs the PIN: --pin-file or "+pinEnv+")")
	}
	if p := r.PIN; p != nil {
		pin := "not set"
		if p.Set {
			pin = fmt.Sprintf("set, %d retries left", p.Retries)
		}
		if p.ForceChange {
			pin += ", must be changed"
		}
		row("PIN", pin)
	}
	inf := r.Info
	if inf == nil {
		if len(r.Algorithms) > 0 {
			row("algorithms", strings.Join(r.Algorithms, ", ")+r.tpmNote(r.Algorithms))
		}
		return
	}
	row("versions", strings.Join(inf.Versions, ", "))
	var algs []string
	for _, a := range inf.Algorithms {
		algs = append(algs, decode.AlgorithmName(a.Alg))
	}
	row("algorithms", strings.Join(algs, ", ")+r.tpmNote(algs))
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
