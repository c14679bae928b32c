"""CTAP 2.1 extensions: python-fido2 (Debian's 0.9.x) against vauth on the virtual cable.

Usage: /usr/bin/python3 extensions.py SOCKET PHASE

PHASE "main" expects a fresh store and covers, through python-fido2's own
extension classes and Fido2Client, verified by Fido2Server:
HmacSecretExtension with PIN/UV auth protocols 1 and 2 (the same salt gives
the same output for the same credential and UV state, another with user
verification; two salts), CredProtectExtension (a level 3 credential is
invisible without user verification, a level 2 one without an allowList),
CredBlobExtension, LargeBlobKeyExtension with LargeBlobs (write, read,
delete; with a PIN, through a token with the lbw permission) and
MinPinLengthExtension.

PHASE "hmac" expects a fresh store (the TPM backend's) and runs the
hmac-secret checks alone.

Prints one line per check and exits non-zero on the first failure.
"""

import hashlib
import os
import sys

from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2, Config, LargeBlobs
from fido2.ctap2.extensions import (
    CredBlobExtension,
    CredProtectExtension,
    HmacSecretExtension,
    LargeBlobKeyExtension,
    MinPinLengthExtension,
)
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialParameters

from interop import ORIGIN, RP, check, open_device, verify_attestation

PIN = "517390"  # six digits: still valid once the minimum PIN length is 6
ES256 = -7
PERM = ClientPin.PERMISSION
POLICY = CredProtectExtension.POLICY
EXTENSIONS = ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength", "thirdPartyPayment"]


class HmacSecretV1(HmacSecretExtension):
    """hmac-secret over PIN/UV auth protocol 1 (python-fido2 picks 2)."""

    def __init__(self, ctap):
        super(HmacSecretV1, self).__init__(ctap, PinProtocolV1())


class HmacSecretV2(HmacSecretExtension):
    """hmac-secret over PIN/UV auth protocol 2."""

    def __init__(self, ctap):
        super(HmacSecretV2, self).__init__(ctap, PinProtocolV2())


def server(rp=RP):
    s = Fido2Server(rp, attestation="direct", verify_attestation=verify_attestation)
    s.allowed_algorithms = [PublicKeyCredentialParameters("public-key", ES256)]
    return s


def register(client, user, extensions, resident=False, pin=None, rp=RP):
    """Registers with Fido2Client, verified by Fido2Server; returns the
    authenticator data, the attestation object and the client extension
    outputs."""
    srv = server(rp)
    uv = "required" if pin else "discouraged"
    options, state = srv.register_begin(user, resident_key=resident, user_verification=uv)
    options["publicKey"]["extensions"] = extensions
    result = client.make_credential(options["publicKey"], pin=pin)
    auth_data = srv.register_complete(state, result.client_data, result.attestation_object)
    return auth_data, result.attestation_object, result.extension_results


def authenticate(client, creds, extensions, allow=True, pin=None, rp=RP):
    """Signs in with Fido2Client, verified by Fido2Server; returns the first
    response."""
    srv = server(rp)
    uv = "required" if pin else "discouraged"
    options, state = srv.authenticate_begin(creds if allow else None, user_verification=uv)
    options["publicKey"]["extensions"] = extensions
    selection = client.get_assertion(options["publicKey"], pin=pin)
    r = selection.get_response(0)
    srv.authenticate_complete(state, creds, r.credential_id, r.client_data, r.authenticator_data, r.signature)
    return r, selection.get_assertions()[0]


def no_credentials(fn, *args, **kwargs):
    """Reports whether fn fails with CTAP2_ERR_NO_CREDENTIALS."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return isinstance(e.cause, CtapError) and e.cause.code == CtapError.ERR.NO_CREDENTIALS
    return False


def hmac_checks(dev, pin_set):
    """hmac-secret with both PIN/UV auth protocols; with pin_set, also with
    user verification (the PIN must then be set)."""
    salt1, salt2, other = os.urandom(32), os.urandom(32), os.urandom(32)
    for ext in (HmacSecretV1, HmacSecretV2):
        name = "hmac-secret protocol %d" % ext(Ctap2(dev)).pin_protocol.VERSION
        client = Fido2Client(dev, ORIGIN, extension_types=[ext])
        pin = PIN if pin_set else None
        user = {"id": ("hmac-%s-%s" % (name[-1], pin_set)).encode(), "name": "hmac"}
        auth_data, _, outputs = register(client, user, {"hmacCreateSecret": True}, pin=pin)
        check("%s: registration outputs hmacCreateSecret" % name, outputs.get("hmacCreateSecret") is True)
        creds = [auth_data.credential_data]

        def secret(salts, pin=None):
            r, _ = authenticate(client, creds, {"hmacGetSecret": salts}, pin=pin)
            return r.extension_results["hmacGetSecret"]

        if pin_set:
            with_uv = secret({"salt1": salt1}, pin=PIN)["output1"]
            again = secret({"salt1": salt1}, pin=PIN)["output1"]
            check("%s with UV: the same salt gives the same output" % name, with_uv == again)
            continue
        first = secret({"salt1": salt1})["output1"]
        check("%s: 32-byte output" % name, len(first) == 32)
        check("%s: the same salt gives the same output" % name, secret({"salt1": salt1})["output1"] == first)
        check("%s: another salt gives another output" % name, secret({"salt1": other})["output1"] != first)
        both = secret({"salt1": salt1, "salt2": salt2})
        check("%s: two salts: output1 is salt1's, output2 another" % name,
              both["output1"] == first and len(both["output2"]) == 32 and both["output2"] != first)
        hmac_checks.without_uv[name] = (ext, creds, first)

    if pin_set:
        # The credentials made before the PIN: the same salt with user
        # verification gives another output than without.
        for name, (ext, creds, first) in hmac_checks.without_uv.items():
            # A new client: one made before the PIN does not know about it.
            client = Fido2Client(dev, ORIGIN, extension_types=[ext])
            r, _ = authenticate(client, creds, {"hmacGetSecret": {"salt1": salt1}}, pin=PIN)
            check("%s: the same credential and salt with UV gives another output" % name,
                  r.extension_results["hmacGetSecret"]["output1"] != first)


hmac_checks.without_uv = {}


def cred_protect_checks(dev):
    client = Fido2Client(dev, ORIGIN)
    creds = {}
    for policy, level, rp_id in ((POLICY.OPTIONAL_WITH_LIST, 2, "list.example.com"), (POLICY.REQUIRED, 3, "required.example.com")):
        rp = {"id": rp_id, "name": rp_id}
        c = Fido2Client(dev, "https://" + rp_id)
        auth_data, _, _ = register(c, {"id": b"cp-%d" % level, "name": "cp"}, {"credentialProtectionPolicy": policy},
                                   resident=True, rp=rp)
        check("credProtect level %d in the authenticator data" % level, auth_data.extensions.get("credProtect") == level)
        creds[level] = (c, rp, [auth_data.credential_data])
    c, rp, cred = creds[3]
    check("level 3 credential invisible without UV, without an allowList", no_credentials(authenticate, c, cred, {}, allow=False, rp=rp))
    check("level 3 credential invisible without UV, with an allowList", no_credentials(authenticate, c, cred, {}, allow=True, rp=rp))
    c, rp, cred = creds[2]
    check("level 2 credential invisible without UV and without an allowList", no_credentials(authenticate, c, cred, {}, allow=False, rp=rp))
    r, _ = authenticate(c, cred, {}, allow=True, rp=rp)
    check("level 2 credential found with an allowList", r.credential_id == cred[0].credential_id)
    return creds


def cred_blob_checks(dev):
    client = Fido2Client(dev, ORIGIN)
    check("getInfo maxCredBlobLength 32", Ctap2(dev).info.max_cred_blob_length == 32)
    blob = os.urandom(32)
    auth_data, _, _ = register(client, {"id": b"blob", "name": "blob"}, {"credBlob": blob})
    check("credBlob stored (output true)", auth_data.extensions.get("credBlob") is True)
    creds = [auth_data.credential_data]
    _, assertion = authenticate(client, creds, {"getCredBlob": True})
    check("getCredBlob returns the blob", assertion.auth_data.extensions.get("credBlob") == blob)
    _, assertion = authenticate(client, creds, {})
    check("no credBlob output unless asked", not assertion.auth_data.extensions)


def large_blob_checks(dev, client_pin=None):
    """LargeBlobKeyExtension and LargeBlobs; with client_pin, the writes use
    a token with the lbw permission."""
    ctap = Ctap2(dev)
    client = Fido2Client(dev, ORIGIN)
    pin = PIN if client_pin else None
    user = {"id": b"lb-%d" % (1 if client_pin else 0), "name": "large blob"}
    auth_data, att, _ = register(client, user, {"largeBlobKey": True}, resident=True, pin=pin)
    key = att.large_blob_key
    check("largeBlobKey of 32 bytes from makeCredential", key is not None and len(key) == 32)
    _, assertion = authenticate(client, [auth_data.credential_data], {"largeBlobKey": True}, pin=pin)
    check("getAssertion returns the same largeBlobKey", assertion.large_blob_key == key)
    # Taken last: every new pinUvAuthToken voids the ones before.
    if client_pin:
        blobs = LargeBlobs(ctap, client_pin.protocol, client_pin.get_pin_token(PIN, PERM.LARGE_BLOB_WRITE))
    else:
        blobs = LargeBlobs(ctap)
    data = b"large blob for " + user["id"] + os.urandom(200)
    blobs.put_blob(key, data)
    check("LargeBlobs: write then read", blobs.get_blob(key) == data)
    blobs.put_blob(key, data + b" v2")
    check("LargeBlobs: overwrite", LargeBlobs(ctap).get_blob(key) == data + b" v2")
    blobs.delete_blob(key)
    check("LargeBlobs: deleted", LargeBlobs(ctap).get_blob(key) is None)
    blobs.put_blob(key, data)  # left for after the PIN is set


def third_party_payment_checks(ctap):
    """thirdPartyPayment (CTAP 2.2), sent raw: this python-fido2 predates it."""
    client_data_hash = hashlib.sha256(b"payment").digest()
    for mark in (True, False):
        user = {"id": b"pay-%d" % mark, "name": "pay"}
        att = ctap.make_credential(client_data_hash, RP, user, [{"type": "public-key", "alg": -7}],
                                   extensions={"thirdPartyPayment": mark})
        out = (att.auth_data.extensions or {}).get("thirdPartyPayment")
        check("thirdPartyPayment %s at makeCredential: output %s" % (mark, out), out is (True if mark else None))
        cred = {"type": "public-key", "id": att.auth_data.credential_data.credential_id}
        assertion = ctap.get_assertion(RP["id"], client_data_hash, [cred], extensions={"thirdPartyPayment": True})
        out = (assertion.auth_data.extensions or {}).get("thirdPartyPayment")
        check("thirdPartyPayment asked at getAssertion: %s" % out, out is mark)


def main(path, phase):
    dev = open_device(path)
    ctap = Ctap2(dev)
    info = ctap.info
    check("getInfo lists exactly the extensions implemented: %s" % info.extensions, sorted(info.extensions) == EXTENSIONS)
    if phase == "hmac":
        hmac_checks(dev, False)
        ClientPin(ctap).set_pin(PIN)
        hmac_checks(dev, True)
        print("python-fido2 extensions %s: all checks passed" % phase)
        return
    check("getInfo largeBlobs option and maxSerializedLargeBlobArray >= 1024",
          info.options.get("largeBlobs") is True and info.max_large_blob >= 1024)

    hmac_checks(dev, False)
    creds = cred_protect_checks(dev)
    cred_blob_checks(dev)
    large_blob_checks(dev)
    third_party_payment_checks(ctap)

    # With a PIN: user verification, the lbw permission, the minimum PIN
    # length.
    client_pin = ClientPin(ctap)
    client_pin.set_pin(PIN)
    hmac_checks(dev, True)
    _, rp, cred = creds[3]
    r, _ = authenticate(Fido2Client(dev, "https://" + rp["id"]), cred, {}, allow=False, pin=PIN, rp=rp)
    check("level 3 credential found with UV", r.credential_id == cred[0].credential_id)

    try:
        LargeBlobs(ctap).write_blob_array([])
        check("large-blob write without a token refused", False)
    except CtapError as e:
        check("large-blob write without a token: PUAT_REQUIRED (PIN_REQUIRED)", e.code == CtapError.ERR.PIN_REQUIRED)
    large_blob_checks(dev, client_pin)
    token = client_pin.get_pin_token(PIN, PERM.GET_ASSERTION, "example.com")
    try:
        LargeBlobs(ctap, client_pin.protocol, token).write_blob_array([])
        check("large-blob write with a token without lbw refused", False)
    except CtapError as e:
        check("large-blob write with a token without lbw: PIN_AUTH_INVALID", e.code == CtapError.ERR.PIN_AUTH_INVALID)

    client = Fido2Client(dev, ORIGIN, extension_types=[MinPinLengthExtension])
    auth_data, _, _ = register(client, {"id": b"mpl-0", "name": "mpl"}, {"minPinLength": True}, pin=PIN)
    check("minPinLength not told to an RP off the list", "minPinLength" not in (auth_data.extensions or {}))
    cfg = Config(ctap, client_pin.protocol, client_pin.get_pin_token(PIN, PERM.AUTHENTICATOR_CFG))
    cfg.set_min_pin_length(min_pin_length=6, rp_ids=[RP["id"]])
    auth_data, _, _ = register(client, {"id": b"mpl-1", "name": "mpl"}, {"minPinLength": True}, pin=PIN)
    check("minPinLength 6 told to an RP on the list", auth_data.extensions.get("minPinLength") == 6)
    dev.close()
    print("python-fido2 extensions %s: all checks passed" % phase)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
