"""python-fido2's TPM attestation verifier on an attestation object vauth made.

Usage: /usr/bin/python3 tpm_attestation.py ATTESTATION_OBJECT CLIENT_DATA_HASH CA_CERT
(each argument in hex; CA_CERT is DER)

Checks the "tpm" statement (WebAuthn 8.3) with fido2.attestation's
TpmAttestation verifier and the x5c chain up to the CA with its
verify_x509_chain. Prints one line per check and exits non-zero on the
first failure.

python-fido2 0.9.1 (Debian bookworm's python3-fido2) verifies RSA (RS256,
PS256) TPM statements as they are. It has no COSE key class for ES384 or
ES512, so it cannot check their pubArea against the credential key. It
rejects every ECC (ES256) TPM statement, from any authenticator, because of
two bugs in
fido2/attestation/tpm.py that later releases fixed:
  - TpmPublicFormat.public_key() calls self.parameters.to_curve(), which
    TpmsEccParms lacks (the method is on its curve_id): AttributeError;
  - TpmsEccPoint.__init__ stores the y coordinate as x ("self.x = y"), so
    the key rebuilt from pubArea would be (y, y), not on the curve.
When the installed version has them, the script first runs the verifier as
it is (and shows how it fails), then repairs those two attributes and runs
it again; every check of the verifier is python-fido2's own code, unchanged.
"""

import sys

import fido2
from fido2.attestation import tpm
from fido2.attestation.base import verify_x509_chain
from fido2.ctap2 import AttestationObject


def ecc_bugs():
    """The known ECC bugs of this python-fido2, each with its repair."""

    def point_init(self, x, y):
        self.x = x
        self.y = y

    def parms_to_curve(self):
        return self.curve_id.to_curve()

    bugs = []
    if not hasattr(tpm.TpmsEccParms, "to_curve"):
        bugs.append(("TpmsEccParms has no to_curve",
                     lambda: setattr(tpm.TpmsEccParms, "to_curve", parms_to_curve)))
    if tpm.TpmsEccPoint(b"x", b"y").x != b"x":
        bugs.append(("TpmsEccPoint stores y as x",
                     lambda: setattr(tpm.TpmsEccPoint, "__init__", point_init)))
    return bugs


def verify(obj, client_data_hash):
    return tpm.TpmAttestation().verify(obj.att_statement, obj.auth_data, client_data_hash)


def main(argv):
    obj = AttestationObject(bytes.fromhex(argv[1]))
    client_data_hash = bytes.fromhex(argv[2])
    ca = bytes.fromhex(argv[3])
    if obj.fmt != "tpm":
        sys.exit("not a tpm attestation: fmt %r" % obj.fmt)
    print("python-fido2", fido2.__version__)

    # The bugs are in the ECC code; an RSA pubArea (RS256, PS256) does not
    # reach it.
    ecc = tpm.TpmPublicFormat.parse(obj.att_statement["pubArea"]).sign_alg == tpm.TpmAlgAsym.ECC
    bugs = ecc_bugs() if ecc else []
    if bugs:
        try:
            verify(obj, client_data_hash)
            sys.exit("the unrepaired verifier accepted an ECC statement: the bug checks are wrong")
        except Exception as e:  # the bugs surface as one of several errors
            print("as installed: rejected (%s: %s)" % (type(e).__name__, e))
        for what, repair in bugs:
            repair()
            print("repaired:", what)

    result = verify(obj, client_data_hash)
    print("TpmAttestation.verify: ok,", result.attestation_type.name)

    try:
        verify(obj, bytes(32))
        sys.exit("TpmAttestation.verify accepted another clientDataHash")
    except fido2.attestation.InvalidSignature as e:
        print("another clientDataHash: rejected (%s)" % e)

    verify_x509_chain(result.trust_path + [ca])
    print("x5c chain to the CA: ok")
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv)
