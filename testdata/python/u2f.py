"""U2F interop test: python-fido2 (Debian's 0.9.x) CTAP1 against vauth on
the virtual cable.

Usage: /usr/bin/python3 u2f.py SOCKET

Registers and authenticates with python-fido2's Ctap1 and its polling
U2fClient, and verifies every registration and authentication signature
with python-fido2's own RegistrationData.verify and SignatureData.verify;
then uses a U2F registration through CTAP2 getAssertion and a CTAP2
credential through U2F. Prints one line per check and exits non-zero on the
first failure.
"""

import os
import sys
from hashlib import sha256

from fido2.client import U2fClient
from fido2.cose import ES256
from fido2.ctap1 import APDU, ApduError, Ctap1, RegistrationData, SignatureData
from fido2.hid import CAPABILITY
from fido2.ctap2 import Ctap2
from fido2.utils import websafe_decode, websafe_encode

from interop import check, open_device

APP_ID = "https://u2f.example.com"
ORIGIN = "https://u2f.example.com"
RP_ID = "example.org"  # U2F registration used by CTAP2 and the reverse


def apdu_error(f):
    """Runs f and returns the status word of the ApduError it raises, or
    None when it raises none."""
    try:
        f()
    except ApduError as e:
        return e.code
    return None


def main(path):
    dev = open_device(path)
    check("device speaks CTAPHID_MSG (no NMSG capability)", not dev.capabilities & CAPABILITY.NMSG)
    ctap1 = Ctap1(dev)
    check("U2F_VERSION is U2F_V2", ctap1.get_version() == "U2F_V2")
    info = Ctap2(dev).get_info()
    check("getInfo lists U2F_V2: %s" % info.versions, "U2F_V2" in info.versions)

    app = sha256(APP_ID.encode()).digest()
    challenge = os.urandom(32)
    reg = ctap1.register(challenge, app)
    reg.verify(app, challenge)  # raises on a bad signature
    check("register: python-fido2 verifies the registration signature (key handle %d bytes)" % len(reg.key_handle),
          len(reg.public_key) == 65 and 0 < len(reg.key_handle) <= 255)

    last = -1
    for i in range(2):
        client_param = os.urandom(32)
        sig = ctap1.authenticate(client_param, app, reg.key_handle)
        sig.verify(app, client_param, reg.public_key)  # raises on a bad signature
        check("authenticate #%d: signature verified, user present, counter %d > %d" % (i + 1, sig.counter, last),
              sig.user_presence & 1 and sig.counter > last)
        last = sig.counter

    code = apdu_error(lambda: ctap1.authenticate(os.urandom(32), app, reg.key_handle, check_only=True))
    check("check-only with this app's key handle: SW_CONDITIONS_NOT_SATISFIED", code == APDU.USE_NOT_SATISFIED)
    other = sha256(b"https://other.example.com").digest()
    code = apdu_error(lambda: ctap1.authenticate(os.urandom(32), other, reg.key_handle, check_only=True))
    check("check-only with another app: SW_WRONG_DATA", code == APDU.WRONG_DATA)
    code = apdu_error(lambda: ctap1.authenticate(os.urandom(32), other, reg.key_handle))
    check("authenticate with another app's key handle: SW_WRONG_DATA", code == APDU.WRONG_DATA)
    tampered = reg.key_handle[:-1] + bytes([reg.key_handle[-1] ^ 1])
    code = apdu_error(lambda: ctap1.authenticate(os.urandom(32), app, tampered))
    check("authenticate with a tampered key handle: SW_WRONG_DATA", code == APDU.WRONG_DATA)

    # The polling U2F client, as U2F-only hosts use the device.
    client = U2fClient(dev, ORIGIN)
    result = client.register(APP_ID, [{"version": "U2F_V2", "challenge": websafe_encode(os.urandom(32))}], [])
    reg2 = RegistrationData.from_b64(result["registrationData"])
    reg2.verify(app, sha256(websafe_decode(result["clientData"])).digest())
    check("U2fClient register verified", reg2.key_handle != reg.key_handle)
    registered = [{"version": "U2F_V2", "keyHandle": websafe_encode(reg2.key_handle)}]
    result = client.sign(APP_ID, websafe_encode(os.urandom(32)), registered)
    sig = SignatureData.from_b64(result["signatureData"])
    sig.verify(app, sha256(websafe_decode(result["clientData"])).digest(), reg2.public_key)
    check("U2fClient sign verified", sig.user_presence & 1)
    try:
        client.register(APP_ID, [{"version": "U2F_V2", "challenge": websafe_encode(os.urandom(32))}], registered)
        check("U2fClient register refuses an already registered device", False)
    except Exception as e:  # ClientError DEVICE_INELIGIBLE, from the check-only request
        check("U2fClient register refuses an already registered device (%s)" % e, "DEVICE_INELIGIBLE" in repr(e))

    # A U2F registration whose application parameter is an RP ID hash signs
    # a CTAP2 getAssertion for that RP ID.
    ctap2 = Ctap2(dev)
    rp_hash = sha256(RP_ID.encode()).digest()
    reg3 = ctap1.register(challenge, rp_hash)
    reg3.verify(rp_hash, challenge)
    cdh = os.urandom(32)
    assertion = ctap2.get_assertion(RP_ID, cdh, allow_list=[{"type": "public-key", "id": reg3.key_handle}])
    assertion.verify(cdh, ES256.from_ctap1(reg3.public_key))  # raises on a bad signature
    check("CTAP2 getAssertion with a U2F key handle verified",
          assertion.credential["id"] == reg3.key_handle and assertion.auth_data.rp_id_hash == rp_hash)

    # A non-discoverable ES256 credential made with CTAP2 signs in over U2F.
    att = ctap2.make_credential(
        os.urandom(32), {"id": RP_ID, "name": "Example"}, {"id": b"u2f-user", "name": "u2f-user"},
        [{"type": "public-key", "alg": ES256.ALGORITHM}])
    cd = att.auth_data.credential_data
    public_key = b"\x04" + cd.public_key[-2] + cd.public_key[-3]
    client_param = os.urandom(32)
    sig = ctap1.authenticate(client_param, rp_hash, cd.credential_id)
    sig.verify(rp_hash, client_param, public_key)
    check("U2F authenticate with a CTAP2 credential verified, counter %d" % sig.counter,
          sig.counter > att.auth_data.counter)

    dev.close()
    print("python-fido2 U2F interop: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
