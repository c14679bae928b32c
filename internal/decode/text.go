package decode

import (
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// WriteText prints the report for people: one section per part, a row per
// member.
func (r *Report) WriteText(w io.Writer) {
	p := &printer{w: w}
	p.line(0, fmt.Sprintf("%s (%s)", r.Kind, r.Encoding))
	if c := r.Credential; c != nil && (c.ID != "" || c.Type != "" || len(c.Transports) > 0 || len(c.UserHandle) > 0) {
		p.section("credential")
		if len(c.RawID) > 0 {
			p.row("id", fmt.Sprintf("%s (%d bytes)", c.ID, len(c.RawID)))
		}
		p.rowIf("type", c.Type)
		p.rowIf("attachment", c.AuthenticatorAttachment)
		p.rowIf("transports", strings.Join(c.Transports, ", "))
		if len(c.ClientExtensionResults) > 0 {
			p.row("client extensions", compactJSON(c.ClientExtensionResults))
		}
		if len(c.UserHandle) > 0 {
			p.row("user handle", b64(c.UserHandle))
		}
	}
	if cd := r.ClientData; cd != nil {
		p.section("client data")
		p.row("type", cd.Type)
		p.row("challenge", cd.Challenge)
		p.row("origin", cd.Origin)
		p.row("crossOrigin", fmt.Sprint(cd.CrossOrigin))
		p.rowIf("topOrigin", cd.TopOrigin)
		p.row("hash", hex.EncodeToString(cd.Hash))
	}
	if ad := r.AuthenticatorData; ad != nil {
		p.section(fmt.Sprintf("authenticator data (%d bytes)", len(ad.Raw)))
		hash := hex.EncodeToString(ad.RPIDHash)
		if ad.RPID != "" {
			hash += fmt.Sprintf(" = SHA-256(%q)", ad.RPID)
		}
		p.row("rpIdHash", hash)
		p.row("flags", fmt.Sprintf("0x%02x %s", ad.Flags, strings.Join(ad.FlagNames, " ")))
		p.row("signCount", fmt.Sprint(ad.SignCount))
		if ac := ad.Attested; ac != nil {
			p.row("AAGUID", ac.AAGUID)
			p.row("credential ID", fmt.Sprintf("%s (%d bytes)", b64(ac.CredentialID), len(ac.CredentialID)))
			p.key("public key", ac.PublicKey)
		}
		if len(ad.Extensions) > 0 {
			p.row("extensions", compactJSON(ad.Extensions))
		}
	}
	if a := r.Attestation; a != nil {
		p.section("attestation")
		p.row("format", a.Format)
		if a.AlgorithmName != "" {
			p.row("alg", a.AlgorithmName)
		}
		if m, ok := a.Statement.(map[string]any); ok {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				switch k {
				case "alg", "x5c":
					continue
				}
				p.row(k, shortValue(m[k]))
			}
		}
		for i, c := range a.Certificates {
			p.row(fmt.Sprintf("x5c[%d]", i), cmp.Or(c.Subject, "(empty subject)"))
			p.sub("issuer", c.Issuer)
			p.sub("serial", c.SerialNumber)
			p.sub("valid", fmt.Sprintf("%s to %s", c.NotBefore.Format("2006-01-02"), c.NotAfter.Format("2006-01-02")))
			p.sub("key", fmt.Sprintf("%s, signed with %s", c.PublicKey, c.SignatureAlgorithm))
			if c.AAGUID != "" {
				p.sub("AAGUID", c.AAGUID)
			}
			switch {
			case c.IssuedByNext != nil && *c.IssuedByNext:
				p.sub("issued by", fmt.Sprintf("x5c[%d] (signature checks)", i+1))
			case c.IssuedByNext != nil:
				p.sub("issued by", fmt.Sprintf("NOT x5c[%d]: its signature does not check", i+1))
			case c.SelfSigned:
				p.sub("issued by", "itself (a root)")
			}
		}
		verified := result(a.Result)
		if a.Result.OK && a.Type != "" {
			verified += " (" + a.Type + ")"
		}
		p.row("verified", verified)
	}
	if s := r.Signature; s != nil {
		p.section("signature")
		p.row("value", hex.EncodeToString(s.Value))
		p.row("verified", result(s.Result))
	}
	if r.Key != nil {
		p.key("key", r.Key)
	}
	if len(r.Problems) > 0 {
		p.section("problems")
		for _, pr := range r.Problems {
			p.line(1, "- "+pr)
		}
	}
}

func result(r Result) string {
	switch {
	case r.OK:
		return "yes"
	case r.Checked:
		return "NO: " + r.Detail
	}
	return r.Detail
}

type printer struct{ w io.Writer }

func (p *printer) line(indent int, s string) {
	fmt.Fprintf(p.w, "%s%s\n", strings.Repeat("  ", indent), s)
}

func (p *printer) section(title string) { p.line(0, title) }

func (p *printer) row(k, v string) { p.line(1, fmt.Sprintf("%-18s %s", k, v)) }

func (p *printer) rowIf(k, v string) {
	if v != "" {
		p.row(k, v)
	}
}

func (p *printer) sub(k, v string) { p.line(2, fmt.Sprintf("%-16s %s", k, v)) }

// key prints a public key in its forms.
func (p *printer) key(title string, k *Key) {
	p.row(title, fmt.Sprintf("%s (%s)", k.AlgorithmName, k.Description))
	p.sub("COSE", hex.EncodeToString(k.COSE))
	p.sub("JWK", k.JWKJSON())
	if k.SSH != "" {
		p.sub("OpenSSH", k.SSH)
	}
	for i, l := range strings.Split(strings.TrimSuffix(k.PEM, "\n"), "\n") {
		label := ""
		if i == 0 {
			label = "PEM"
		}
		p.sub(label, l)
	}
}

// shortValue shows a statement member: byte strings as hex (shortened past
// 64 bytes), the rest as JSON.
func shortValue(v any) string {
	if b, ok := v.(Bytes); ok {
		s := hex.EncodeToString(b)
		if len(b) > 64 {
			s = hex.EncodeToString(b[:32]) + "…" + hex.EncodeToString(b[len(b)-8:])
		}
		return fmt.Sprintf("%s (%d bytes)", s, len(b))
	}
	return compactJSON(v)
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
