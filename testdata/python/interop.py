"""Interop test: python-fido2 (Debian's 0.9.x) against vauth on the virtual cable.

Usage: /usr/bin/python3 interop.py SOCKET

Every registration and assertion goes through python-fido2's own CTAPHID
stack and Fido2Client, and is verified by its Fido2Server, with the
attestation statement checked by python-fido2's attestation verifiers.
Prints one line per check and exits non-zero on the first failure.
"""

import socket
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fido2 import cbor
from fido2.attestation import Attestation
from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.server import Fido2Server
from fido2.utils import bytes2int
from fido2.webauthn import PublicKeyCredentialParameters

RP = {"id": "example.com", "name": "Example"}
ORIGIN = "https://example.com"
REPORT = 64
ES256, EDDSA, RS256, PS256 = -7, -8, -257, -37
# The credential algorithms python-fido2 0.9 verifies (fido2.cose has no
# ES384, ES512 or ES256K), all of which vauth's soft keystore makes.
ALGORITHMS = ((ES256, "ES256"), (EDDSA, "EdDSA"), (RS256, "RS256"), (PS256, "PS256"))


class CableConnection(CtapHidConnection):
    """One host on vauth's virtual cable: a SOCK_SEQPACKET Unix socket
    carrying one 64-byte CTAPHID report per message."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(30)
        self.sock.connect(path)

    def read_packet(self):
        return self.sock.recv(REPORT)

    def write_packet(self, data):
        self.sock.send(data)

    def close(self):
        self.sock.close()


def open_device(path):
    descriptor = HidDescriptor(path, 0, 0, REPORT, REPORT)
    return CtapHidDevice(descriptor, CableConnection(path))


def verify_attestation(attestation_object, client_data_hash):
    """Fido2Server's hook: verify the statement with python-fido2's own
    verifier for its format (signature, certificate requirements)."""
    verifier = Attestation.for_type(attestation_object.fmt)()
    verifier.verify(attestation_object.att_statement, attestation_object.auth_data, client_data_hash)


def server(alg=None):
    s = Fido2Server(RP, attestation="direct", verify_attestation=verify_attestation)
    if alg is not None:
        s.allowed_algorithms = [PublicKeyCredentialParameters("public-key", alg)]
    return s


def check(name, cond):
    if not cond:
        print("FAIL", name)
        sys.exit(1)
    print("ok  ", name)


def register(client, srv, user, resident, exclude=None):
    options, state = srv.register_begin(user, credentials=exclude, resident_key=resident, user_verification="discouraged")
    result = client.make_credential(options["publicKey"])
    auth_data = srv.register_complete(state, result.client_data, result.attestation_object)
    return auth_data, result.attestation_object


def authenticate(client, srv, creds, allow):
    options, state = srv.authenticate_begin(creds if allow else None, user_verification="discouraged")
    selection = client.get_assertion(options["publicKey"])
    responses = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    for r in responses:
        srv.authenticate_complete(state, creds, r.credential_id, r.client_data, r.authenticator_data, r.signature)
    return responses


def authenticate_pss(client, srv, cred):
    """A PS256 sign-in, verified with RFC 8230 section 2's salt (as long as
    the hash), as WebAuthn relying parties and go-webauthn verify it.
    python-fido2 0.9's PS256.verify insists on the longest salt instead,
    so its Fido2Server cannot check a conforming PS256 signature."""
    options, _ = srv.authenticate_begin([cred], user_verification="discouraged")
    r = client.get_assertion(options["publicKey"]).get_response(0)
    n, e = bytes2int(cred.public_key[-1]), bytes2int(cred.public_key[-2])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
    rsa.RSAPublicNumbers(e, n).public_key().verify(
        r.signature, r.authenticator_data + r.client_data.hash, pss, hashes.SHA256())
    return r


def main(path):
    dev = open_device(path)
    info = Ctap2(dev).get_info()
    check("getInfo lists FIDO_2_0", "FIDO_2_0" in info.versions)
    check("getInfo advertises discoverable credentials", info.options.get("rk") is True)
    algs = [a["alg"] for a in info.algorithms]
    check("getInfo lists ES256, EdDSA, RS256 and PS256: %s" % algs, all(a in algs for a, _ in ALGORITHMS))
    client = Fido2Client(dev, ORIGIN)

    # Non-discoverable credentials, every algorithm, signed in with an allowList.
    for alg, name in ALGORITHMS:
        srv = server(alg)
        user = {"id": ("nd-" + name).encode(), "name": "nd-" + name}
        auth_data, att = register(client, srv, user, resident=False)
        cred = auth_data.credential_data
        check("register non-discoverable %s (fmt %s) verified" % (name, att.fmt), cred.public_key[3] == alg)
        last = auth_data.counter
        for i in range(2):
            if alg == PS256:
                r = authenticate_pss(client, srv, cred)
            else:
                (r,) = authenticate(client, srv, [cred], allow=True)
            check("assert %s #%d verified, counter %d > %d" % (name, i + 1, r.authenticator_data.counter, last),
                  r.authenticator_data.counter > last)
            last = r.authenticator_data.counter

    # excludeList: the "passkey already exists" case.
    srv = server(ES256)
    user = {"id": b"excluded", "name": "excluded"}
    auth_data, _ = register(client, srv, user, resident=True)
    try:
        register(client, srv, user, resident=True, exclude=[auth_data.credential_data])
        check("excludeList refuses a second credential", False)
    except ClientError as e:
        check("excludeList refuses a second credential (CREDENTIAL_EXCLUDED)",
              isinstance(e.cause, CtapError) and e.cause.code == CtapError.ERR.CREDENTIAL_EXCLUDED)

    # Several discoverable accounts for one RP, of several algorithms.
    rp2 = {"id": "accounts.example.com", "name": "Accounts"}
    client2 = Fido2Client(dev, "https://accounts.example.com")
    creds, users = [], []
    for i, alg in enumerate((ES256, EDDSA, RS256)):
        srv = Fido2Server(rp2, attestation="direct", verify_attestation=verify_attestation)
        srv.allowed_algorithms = [PublicKeyCredentialParameters("public-key", alg)]
        user = {"id": ("acct-%d" % i).encode(), "name": "user%d@example.com" % i, "displayName": "User %d" % i}
        auth_data, _ = register(client2, srv, user, resident=True)
        creds.append(auth_data.credential_data)
        users.append(user)
    check("registered three discoverable accounts", len(creds) == 3)
    srv = Fido2Server(rp2)
    responses = authenticate(client2, srv, creds, allow=False)
    handles = [r.user_handle for r in responses]
    check("discoverable sign-in returns all three accounts, newest first: %s" % handles,
          handles == [u["id"] for u in reversed(users)])

    # A discoverable credential signs in without an allowList, and with one.
    (r,) = authenticate(client2, srv, creds[:1], allow=True)
    check("allowList sign-in with a discoverable credential", r.credential_id == creds[0].credential_id)
    dev.close()
    print("python-fido2 interop: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
