"""python-fido2 (Debian's 0.9.x) with every algorithm it can use, over hidraw.

Usage: /usr/bin/python3 algorithms.py /dev/hidrawN

Registers a non-discoverable credential of each algorithm vauth offers
(RS256, PS256, ES384, ES512, ES256K, EdDSA, ES256) through Fido2Client,
verifies each registration with Fido2Server and checks the attested key's
COSE algorithm, then signs in with each, verifying the assertion with
python-fido2's key classes or, for ES384, ES512 and ES256K (which
python-fido2 0.9 has no class for) and PS256, with cryptography directly.

Then the allowList a relying party sends for a user with several security
keys: each credential among foreign IDs of several lengths, longer than
the maxCredentialCountInList that uhid's message size leaves room for.
The whole list gets CTAP2_ERR_LIMIT_EXCEEDED; a platform that splits it
into lists of maxCredentialCountInList and probes each with "up": false
(CTAP 2.1's pre-flight, §5 Terminology; python-fido2's newer clients do
this) finds the credential, and the assertion it then gets verifies.
Debian's python-fido2 0.9 client does not split: it refuses such a list
(reported as a note, as that is the client's behaviour, not vauth's).
"""

import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.utils import sha256

from hidraw import ORIGIN, RP, check, find_device, register

ALGORITHMS = (
    (-257, "RS256"),
    (-37, "PS256"),
    (-35, "ES384"),
    (-36, "ES512"),
    (-47, "ES256K"),
    (-8, "EdDSA"),
    (-7, "ES256"),
)
PS256 = -37
# The EC2 algorithms python-fido2 0.9 has no key class for: their curves
# and hashes (RFC 8152 §8.1, RFC 8812 §3.2).
EC2_ALGORITHMS = {
    -35: (ec.SECP384R1(), hashes.SHA384()),
    -36: (ec.SECP521R1(), hashes.SHA512()),
    -47: (ec.SECP256K1(), hashes.SHA256()),
}
# COSE_Key labels (RFC 8152 §13.1.1, RFC 8230 §4): an EC2 key's x and y
# coordinates, an RSA key's modulus and exponent.
COSE_X, COSE_Y = -2, -3
COSE_N, COSE_E = -1, -2


def verify(cred, auth_data, client_data_hash, signature):
    """Verifies an assertion signature with the credential's key."""
    key = cred.public_key
    message = auth_data + client_data_hash
    if key[3] in EC2_ALGORITHMS:
        curve, hash_alg = EC2_ALGORITHMS[key[3]]
        pub = ec.EllipticCurvePublicNumbers(
            int.from_bytes(key[COSE_X], "big"), int.from_bytes(key[COSE_Y], "big"), curve
        ).public_key()
        pub.verify(signature, message, ec.ECDSA(hash_alg))
    elif key[3] == PS256:
        # RFC 8230 §2: the salt is as long as the hash output. python-fido2
        # 0.9's PS256.verify asks cryptography for PSS.MAX_LENGTH, which
        # Debian's cryptography 38 takes as exactly the longest salt, so it
        # rejects such signatures (see ps256_note).
        pub = rsa.RSAPublicNumbers(int.from_bytes(key[COSE_E], "big"), int.from_bytes(key[COSE_N], "big")).public_key()
        pub.verify(signature, message, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH), hashes.SHA256())
    else:
        key.verify(message, signature)


def ps256_note(cred, auth_data, client_data_hash, signature):
    """Says whether python-fido2's own PS256 verifier takes the signature."""
    try:
        cred.public_key.verify(auth_data + client_data_hash, signature)
        print("note: python-fido2's PS256.verify accepts the signature")
    except InvalidSignature:
        print("note: python-fido2's PS256.verify rejects the signature (it wants the longest PSS salt)")


def sign_in(client, cred):
    """Signs in through Fido2Client with cred alone in the allowList."""
    srv = Fido2Server(RP)
    options, state = srv.authenticate_begin([cred], user_verification="discouraged")
    selection = client.get_assertion(options["publicKey"])
    (r,) = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    verify(cred, r.authenticator_data, r.client_data.hash, r.signature)
    if cred.public_key[3] == PS256:
        ps256_note(cred, r.authenticator_data, r.client_data.hash, r.signature)
    return r


def descriptor(cred_id):
    return {"type": "public-key", "id": cred_id}


def find_in_chunks(ctap2, allow, chunk):
    """Probes allow in lists of chunk entries without user presence, as a
    platform splits a long allowList; returns the first list the
    authenticator knows a credential in and how many lists it probed."""
    probe_hash = sha256(b"probe")
    for i in range(0, len(allow), chunk):
        part = allow[i : i + chunk]
        try:
            ctap2.get_assertion(RP["id"], probe_hash, part, options={"up": False})
        except CtapError as e:
            if e.code != CtapError.ERR.NO_CREDENTIALS:
                raise
            continue
        return part, i // chunk + 1
    return None, (len(allow) + chunk - 1) // chunk


def main(path):
    dev = find_device(path)
    client = Fido2Client(dev, ORIGIN)
    ctap2 = Ctap2(dev)
    info = ctap2.info
    check(
        "getInfo lists %s" % ", ".join(n for _, n in ALGORITHMS),
        all({"type": "public-key", "alg": a} in info.algorithms for a, _ in ALGORITHMS),
    )

    creds = {}
    for alg, name in ALGORITHMS:
        user = {"id": ("alg-" + name).encode(), "name": "alg-" + name}
        cred, fmt = register(client, alg, user, resident=False)
        check(
            "%s registration verified (fmt %s), attested key's alg %d, credential ID %d bytes"
            % (name, fmt, cred.public_key[3], len(cred.credential_id)),
            cred.public_key[3] == alg,
        )
        r = sign_in(client, cred)
        check("%s assertion verified" % name, r.credential_id == cred.credential_id)
        try:
            verify(cred, r.authenticator_data, sha256(b"other client data"), r.signature)
            check("%s assertion does not verify over other data" % name, False)
        except InvalidSignature:
            check("%s assertion does not verify over other data" % name, True)
        creds[name] = cred

    longest = max(len(c.credential_id) for c in creds.values())
    chunk = info.max_creds_in_list
    print(
        "info: maxMsgSize %d, maxCredentialCountInList %d, maxCredentialIdLength %d"
        % (info.max_msg_size, chunk, info.max_cred_id_length)
    )
    check("maxCredentialIdLength covers every ID", info.max_cred_id_length >= longest)
    # Other authenticators' credentials the relying party also lists: IDs
    # as long as this device's longest and as an EC one, unknown to this
    # device; with a credential of this one the list still fits in maxMsgSize.
    foreign = [bytes([0xF0 + i]) * n for i, n in enumerate((longest, 64, 64, 64))]
    # As many IDs as a list may hold, too long together for maxMsgSize.
    oversized = [descriptor(bytes([0xE0 + i]) * (info.max_msg_size // chunk)) for i in range(chunk)]
    try:
        ctap2.get_assertion(RP["id"], sha256(b"oversized"), oversized, options={"up": False})
        check("an allowList over maxMsgSize is refused", False)
    except CtapError as e:
        # vauth answers a request longer than maxMsgSize with
        # CTAP1_ERR_INVALID_LENGTH.
        check("an allowList of %d IDs of %d bytes, over maxMsgSize, gets %s" % (chunk, info.max_msg_size // chunk, e.code.name),
              e.code == CtapError.ERR.INVALID_LENGTH)
    for i, (name, cred) in enumerate(creds.items()):
        # Each credential at another place in the list.
        at = i % (len(foreign) + 1)
        ids = foreign[:at] + [cred.credential_id] + foreign[at:]
        allow = [descriptor(i) for i in ids]
        try:
            ctap2.get_assertion(RP["id"], sha256(b"whole"), allow, options={"up": False})
            check("%s: the whole allowList of %d is refused" % (name, len(allow)), False)
        except CtapError as e:
            check(
                "%s: the whole allowList of %d, more than %d, gets %s" % (name, len(allow), chunk, e.code.name),
                e.code == CtapError.ERR.LIMIT_EXCEEDED,
            )
        part, probes = find_in_chunks(ctap2, allow, chunk)
        check(
            "%s: at %d, found in list %d of the allowList split into lists of %d" % (name, at, probes, chunk),
            part is not None and descriptor(cred.credential_id) in part and probes == at // chunk + 1,
        )
        client_data_hash = sha256(b"chunked sign-in " + name.encode())
        a = ctap2.get_assertion(RP["id"], client_data_hash, part)
        verify(cred, a.auth_data, client_data_hash, a.signature)
        check(
            "%s: assertion with that list verified, user present" % name,
            a.credential["id"] == cred.credential_id and a.auth_data.is_user_present(),
        )

    # Debian's python-fido2 0.9 does not split: it refuses an allowList or
    # excludeList longer than maxCredentialCountInList before sending it.
    # Reported, not required: it is the client's behaviour, not vauth's.
    srv = Fido2Server(RP)
    options, _ = srv.authenticate_begin(list(creds.values()), user_verification="discouraged")
    try:
        client.get_assertion(options["publicKey"])
        print("note: Fido2Client sent an allowList of %d" % len(creds))
    except ClientError as e:
        print("note: Fido2Client with an allowList of %d: %s (%s)" % (len(creds), e.code.name, e.cause))
    options, _ = srv.register_begin({"id": b"another", "name": "another"}, list(creds.values()))
    try:
        client.make_credential(options["publicKey"])
        print("note: Fido2Client sent an excludeList of %d" % len(creds))
    except ClientError as e:
        print("note: Fido2Client with an excludeList of %d: %s (%s)" % (len(creds), e.code.name, e.cause))
    dev.close()
    print("python-fido2 algorithms over hidraw: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
