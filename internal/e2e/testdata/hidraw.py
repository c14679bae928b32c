"""python-fido2 (Debian's 0.9.x) against vauth's uhid device, over hidraw.

Usage: /usr/bin/python3 hidraw.py /dev/hidrawN

Finds the device through python-fido2's own Linux hidraw backend
(CtapHidDevice.list_devices()), registers ES256 and EdDSA credentials, both
discoverable and not, and signs in with each; Fido2Server verifies every
registration (with python-fido2's verifier for the attestation format) and
every assertion. Prints one line per check; exits non-zero on the first
failure.
"""

import sys

from fido2.attestation import Attestation
from fido2.client import Fido2Client
from fido2.hid import CtapHidDevice
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialParameters

RP = {"id": "hidraw.example.org", "name": "hidraw"}
ORIGIN = "https://hidraw.example.org"
ALGORITHMS = ((-7, "ES256"), (-8, "EdDSA"))


def check(name, cond):
    if not cond:
        print("FAIL", name)
        sys.exit(1)
    print("ok  ", name)


def find_device(path):
    for dev in CtapHidDevice.list_devices():
        if dev.descriptor.path == path:
            return dev
    print("FAIL python-fido2 does not list", path)
    sys.exit(1)


def verify_attestation(attestation_object, client_data_hash):
    verifier = Attestation.for_type(attestation_object.fmt)()
    verifier.verify(attestation_object.att_statement, attestation_object.auth_data, client_data_hash)


def register(client, alg, user, resident):
    srv = Fido2Server(RP, attestation="direct", verify_attestation=verify_attestation)
    srv.allowed_algorithms = [PublicKeyCredentialParameters("public-key", alg)]
    options, state = srv.register_begin(user, resident_key=resident, user_verification="discouraged")
    result = client.make_credential(options["publicKey"])
    auth_data = srv.register_complete(state, result.client_data, result.attestation_object)
    return auth_data.credential_data, result.attestation_object.fmt


def authenticate(client, creds, allow):
    srv = Fido2Server(RP)
    options, state = srv.authenticate_begin(creds if allow else None, user_verification="discouraged")
    selection = client.get_assertion(options["publicKey"])
    responses = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    for r in responses:
        srv.authenticate_complete(state, creds, r.credential_id, r.client_data, r.authenticator_data, r.signature)
    return responses


def main(path):
    dev = find_device(path)
    check("CtapHidDevice.list_devices() lists %s" % path, True)
    client = Fido2Client(dev, ORIGIN)

    for alg, name in ALGORITHMS:
        user = {"id": ("nd-" + name).encode(), "name": "nd-" + name}
        cred, fmt = register(client, alg, user, resident=False)
        check("non-discoverable %s registration verified (fmt %s)" % (name, fmt), cred.public_key[3] == alg)
        (r,) = authenticate(client, [cred], allow=True)
        check("non-discoverable %s assertion verified" % name, r.credential_id == cred.credential_id)

    creds, users = [], []
    for alg, name in ALGORITHMS:
        user = {"id": ("rk-" + name).encode(), "name": "rk-" + name, "displayName": "Resident " + name}
        cred, fmt = register(client, alg, user, resident=True)
        check("discoverable %s registration verified (fmt %s)" % (name, fmt), cred.public_key[3] == alg)
        creds.append(cred)
        users.append(user)
    responses = authenticate(client, creds, allow=False)
    handles = [r.user_handle for r in responses]
    check("discoverable sign-in without allowList verified for %s" % handles,
          sorted(handles) == sorted(u["id"] for u in users))
    dev.close()
    print("python-fido2 over hidraw: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
