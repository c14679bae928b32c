package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newResetCmd(g *globals) *cobra.Command {
	var tf targetFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Erase the authenticator: every credential, the PIN and the settings",
		Long: "Erase the authenticator as authenticatorReset does: every credential (passkeys and\n" +
			"the keys behind non-discoverable credential IDs, which stop working), the PIN and its\n" +
			"retry counters, and the settings. On vauth's store the attestation CA and the device\n" +
			"serial go too (a new uhid device identity at the next start). A hardware key (--device)\n" +
			"allows it only within seconds of being plugged in, and asks for a touch.\n" +
			"Asks for confirmation unless --yes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, r, err := tf.openDescribed(cmd, g, true)
			if err != nil {
				return err
			}
			defer t.Close()
			fmt.Fprintln(cmd.ErrOrStderr(), lossSummary(t, r))
			if err := confirm(cmd, yes, "Reset "+t.where()+"? This cannot be undone."); err != nil {
				return err
			}
			if err := t.reset(cmd.Context()); err != nil {
				return pinError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "reset %s\n", t.where())
			return nil
		},
	}
	tf.register(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// lossSummary says what a reset of t erases.
func lossSummary(t target, r infoReport) string {
	var lost []string
	if r.Credentials != nil {
		lost = append(lost, fmt.Sprintf("%s of %s", plural(*r.Credentials, "discoverable credential"), plural(*r.RPs, "relying party")))
	} else {
		lost = append(lost, "every discoverable credential")
	}
	lost = append(lost, "every non-discoverable credential (its ID no longer works anywhere)")
	if r.PIN != nil && r.PIN.Set {
		lost = append(lost, "the PIN")
	}
	if r.Device == "" {
		lost = append(lost, "the attestation CA and the device serial")
	}
	return fmt.Sprintf("Resetting %s erases %s.", t.where(), strings.Join(lost, ", "))
}
