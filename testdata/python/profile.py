"""Profiles interop test: python-fido2 (Debian's 0.9.x) against `vauth run
--profile ctap2.0` or `--profile u2f` on the virtual cable.

Usage: /usr/bin/python3 profile.py SOCKET ctap2.0|u2f

ctap2.0: getInfo is a CTAP 2.0 key's; python-fido2 takes PIN protocol 1
and getPinToken, which returns the same pinToken each time; with a PIN
set, a makeCredential without it is refused (CTAP2_ERR_PIN_REQUIRED) and a
registration with it is user-verified; Fido2Server verifies registration and assertion.
u2f: the device has no CBOR capability, so python-fido2's Fido2Client
falls back to CTAP1, and Fido2Server verifies the fido-u2f registration
and the assertion. Prints one line per check and exits non-zero on the
first failure.
"""

import sys

from fido2.client import Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CAPABILITY

from interop import ORIGIN, check, open_device, server

PIN = "1357"


def register(client, srv, user, **kwargs):
    options, state = srv.register_begin(user, user_verification="discouraged")
    result = client.make_credential(options["publicKey"], **kwargs)
    return srv.register_complete(state, result.client_data, result.attestation_object), result.attestation_object


def authenticate(client, srv, cred, **kwargs):
    options, state = srv.authenticate_begin([cred], user_verification="discouraged")
    r = client.get_assertion(options["publicKey"], **kwargs).get_response(0)
    srv.authenticate_complete(state, [cred], r.credential_id, r.client_data, r.authenticator_data, r.signature)
    return r.authenticator_data


def ctap20(dev):
    ctap = Ctap2(dev)
    info = ctap.info
    check("getInfo versions %s" % info.versions, info.versions == ["U2F_V2", "FIDO_2_0"])
    check("getInfo extensions %s" % info.extensions, info.extensions == ["hmac-secret"])
    check("getInfo pinUvAuthProtocols %s" % info.pin_uv_protocols, info.pin_uv_protocols == [1])
    check("getInfo options %s" % info.options,
          info.options == {"plat": False, "rk": True, "clientPin": False, "up": True})
    check("getInfo has no 2.1 members", info.max_creds_in_list is None and not info.algorithms)
    pin = ClientPin(ctap)
    check("python-fido2 takes PIN protocol 1", pin.protocol.VERSION == 1)
    pin.set_pin(PIN)
    first, second = pin.get_pin_token(PIN), pin.get_pin_token(PIN)
    check("getPinToken returns the same pinToken until power-up", first == second)

    try:
        ctap.make_credential(bytes(32), {"id": "example.com"}, {"id": b"nopin"}, [{"type": "public-key", "alg": -7}])
        check("makeCredential without pinAuth refused", False)
    except CtapError as e:
        check("makeCredential without pinAuth: %s" % e.code, e.code == CtapError.ERR.PIN_REQUIRED)
    client = Fido2Client(dev, ORIGIN)
    srv = server()
    auth_data, att = register(client, srv, {"id": b"alice", "name": "alice"}, pin=PIN)
    check("registration with the PIN verified (fmt %s), UV flag" % att.fmt, auth_data.is_user_verified())
    ad = authenticate(client, srv, auth_data.credential_data, pin=PIN)
    check("assertion with the PIN verified, UV flag, counter %d" % ad.counter, ad.is_user_verified())


def u2f(dev):
    check("no CBOR capability", not dev.capabilities & CAPABILITY.CBOR)
    check("CTAPHID_MSG served (no NMSG)", not dev.capabilities & CAPABILITY.NMSG)
    try:
        Ctap2(dev)
        check("Ctap2 refuses a U2F-only device", False)
    except ValueError:
        check("Ctap2 refuses a U2F-only device", True)
    client = Fido2Client(dev, ORIGIN)
    srv = server()
    auth_data, att = register(client, srv, {"id": b"bob", "name": "bob"})
    check("registration over U2F verified (fmt %s)" % att.fmt, att.fmt == "fido-u2f")
    ad = authenticate(client, srv, auth_data.credential_data)
    check("assertion over U2F verified, counter %d" % ad.counter, ad.is_user_present())


def main(path, profile):
    dev = open_device(path)
    {"ctap2.0": ctap20, "u2f": u2f}[profile](dev)
    print("all checks passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
