"""PIN/UV interop: python-fido2 (Debian's 0.9.x) against vauth on the virtual cable.

Usage: /usr/bin/python3 pin.py SOCKET PHASE

PHASE "main" expects a fresh store served with `vauth run --uv always` and
covers ClientPin with PIN/UV auth protocols 1 and 2 (set, change, wrong PINs
and retry counts, tokens with permissions and an RP ID), built-in user
verification, Fido2Client with user_verification "required" verified by
Fido2Server, CredentialManagement and Config.

The phases "lockout", "restarted", "drain", "blocked" and "reset" run in
this order against one store, with the daemon restarted (SIGTERM, start
again) between them: three wrong PINs in a row need a power cycle, the
retry counter survives restarts, eight wrong PINs block the PIN until
authenticatorReset.

Prints one line per check and exits non-zero on the first failure.
"""

import sys

from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.utils import sha256
from fido2.webauthn import PublicKeyCredentialParameters

from interop import ORIGIN, RP, check, open_device, verify_attestation

ERR = CtapError.ERR
PERM = ClientPin.PERMISSION
CM = CredentialManagement.RESULT
PIN1, PIN2, PIN3 = "1234", "246810", "13579246"
ES256 = -7


def fails(name, code, fn, *args, **kwargs):
    """Checks that fn raises CtapError code."""
    try:
        fn(*args, **kwargs)
    except CtapError as e:
        check("%s: %s" % (name, e.code.name if hasattr(e.code, "name") else e.code), e.code == code)
        return
    check("%s: succeeded, want %s" % (name, code.name), False)


def retries(ctap, want, want_power_cycle=False):
    n, power_cycle = ClientPin(ctap).get_pin_retries()
    check("pinRetries %d (want %d), powerCycleState %s" % (n, want, power_cycle),
          n == want and bool(power_cycle) == want_power_cycle)


def server():
    s = Fido2Server(RP, attestation="direct", verify_attestation=verify_attestation)
    s.allowed_algorithms = [PublicKeyCredentialParameters("public-key", ES256)]
    return s


def make_credential(ctap, token, protocol, rp_id, user, rk=True):
    client_data_hash = sha256(b"client data " + user["id"])
    kwargs = {}
    if token is not None:
        kwargs = {"pin_uv_param": protocol.authenticate(token, client_data_hash), "pin_uv_protocol": protocol.VERSION}
    return ctap.make_credential(client_data_hash, {"id": rp_id, "name": rp_id}, user,
                                [{"type": "public-key", "alg": ES256}], options={"rk": rk}, **kwargs)


def client_pin_checks(dev, ctap):
    info = ctap.info
    check("getInfo lists FIDO_2_1 and pinUvAuthProtocols [2, 1]",
          "FIDO_2_1" in info.versions and info.pin_uv_protocols == [2, 1])
    check("getInfo options: pinUvAuthToken, credMgmt, authnrCfg, uv; no PIN yet",
          all(info.options.get(o) for o in ("pinUvAuthToken", "credMgmt", "authnrCfg", "uv", "setMinPINLength"))
          and info.options.get("clientPin") is False and info.min_pin_length == 4)
    v1, v2 = ClientPin(ctap, PinProtocolV1()), ClientPin(ctap, PinProtocolV2())
    fails("getPINRetries before any PIN", ERR.PIN_NOT_SET, ClientPin(ctap).get_pin_retries)
    v2.set_pin(PIN1)
    retries(ctap, 8)
    check("protocol 2 setPIN: clientPin true", Ctap2(dev).info.options.get("clientPin") is True)
    fails("setPIN again", ERR.PIN_AUTH_INVALID, v1.set_pin, "5678")

    fails("protocol 1 wrong PIN", ERR.PIN_INVALID, v1.get_pin_token, "4321", PERM.GET_ASSERTION)
    retries(ctap, 7)
    v1.get_pin_token(PIN1, PERM.GET_ASSERTION)
    retries(ctap, 8)

    fails("protocol 1 changePIN with the wrong PIN", ERR.PIN_INVALID, v1.change_pin, "0000", PIN2)
    v1.change_pin(PIN1, PIN2)
    fails("protocol 2 old PIN after changePIN", ERR.PIN_INVALID, v2.get_pin_token, PIN1, PERM.GET_ASSERTION)
    retries(ctap, 7)
    v2.get_pin_token(PIN2, PERM.GET_ASSERTION)
    retries(ctap, 8)

    for pin_client in (v1, v2):
        proto = pin_client.protocol
        token = pin_client.get_pin_token(PIN2, PERM.MAKE_CREDENTIAL, "example.com")
        user = {"id": b"tok-%d" % proto.VERSION, "name": "tok%d" % proto.VERSION}
        fails("protocol %d mc token used for another RP" % proto.VERSION, ERR.PIN_AUTH_INVALID,
              make_credential, ctap, token, proto, "other.example", user)
        att = make_credential(ctap, token, proto, "example.com", user)
        check("protocol %d mc token for example.com: UV flag" % proto.VERSION, att.auth_data.is_user_verified())
        fails("protocol %d token used twice" % proto.VERSION, ERR.PIN_AUTH_INVALID,
              make_credential, ctap, token, proto, "example.com", user)
        ga_token = pin_client.get_pin_token(PIN2, PERM.GET_ASSERTION)
        fails("protocol %d ga token for makeCredential" % proto.VERSION, ERR.PIN_AUTH_INVALID,
              make_credential, ctap, ga_token, proto, "example.com", user)
    fails("discoverable credential without UV when a PIN is set", ERR.PIN_REQUIRED,
          make_credential, ctap, None, v2.protocol, "example.com", {"id": b"x", "name": "x"})

    # Built-in user verification (vauth run --uv always).
    n, _ = v2.get_uv_retries()
    check("uvRetries %d" % n, n == 8)
    token = v2.get_uv_token(PERM.MAKE_CREDENTIAL, "example.com")
    att = make_credential(ctap, token, v2.protocol, "example.com", {"id": b"uv", "name": "uv"})
    check("token from built-in UV: UV flag", att.auth_data.is_user_verified())


def fido2_client_checks(dev):
    for name, kwargs in (("PIN", {"pin": PIN2}), ("built-in UV", {})):
        srv = server()
        client = Fido2Client(dev, ORIGIN)
        user = {"id": ("req-" + name).encode(), "name": "required %s" % name}
        options, state = srv.register_begin(user, resident_key=True, user_verification="required")
        result = client.make_credential(options["publicKey"], **kwargs)
        auth_data = srv.register_complete(state, result.client_data, result.attestation_object)
        check("Fido2Client uv required with %s: registration verified, UV flag" % name, auth_data.is_user_verified())
        creds = [auth_data.credential_data]
        last = auth_data.counter
        for allow in (True, False):
            options, state = srv.authenticate_begin(creds if allow else None, user_verification="required")
            response = client.get_assertion(options["publicKey"], **kwargs).get_response(0)
            srv.authenticate_complete(state, creds, response.credential_id, response.client_data,
                                      response.authenticator_data, response.signature)
            ad = response.authenticator_data
            check("Fido2Client uv required with %s: assertion (allowList %s) verified, UV, counter %d > %d"
                  % (name, allow, ad.counter, last), ad.is_user_verified() and ad.counter > last)
            last = ad.counter
    try:
        Fido2Client(dev, ORIGIN).make_credential(
            server().register_begin({"id": b"w", "name": "w"}, resident_key=True, user_verification="required")[0]["publicKey"],
            pin="0000")
        check("Fido2Client with a wrong PIN", False)
    except ClientError as e:
        check("Fido2Client with a wrong PIN: PIN_INVALID", isinstance(e.cause, CtapError) and e.cause.code == ERR.PIN_INVALID)


def credential_management_checks(ctap):
    v2 = ClientPin(ctap, PinProtocolV2())
    token = v2.get_pin_token(PIN2, PERM.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, v2.protocol, token)
    meta = cm.get_metadata()
    existing = meta[CM.EXISTING_CRED_COUNT]
    check("getCredsMetadata: %d credentials, %d more fit" % (existing, meta[CM.MAX_REMAINING_COUNT]),
          existing >= 5 and meta[CM.MAX_REMAINING_COUNT] > 0)
    rps = cm.enumerate_rps()
    ids = sorted(rp[CM.RP]["id"] for rp in rps)
    check("enumerateRPs: %s" % ids, ids == ["example.com"]
          and all(rp[CM.RP_ID_HASH] == sha256(rp[CM.RP]["id"].encode()) for rp in rps))
    creds = cm.enumerate_creds(sha256(b"example.com"))
    names = [c[CM.USER]["name"] for c in creds]
    check("enumerateCredentials: %s" % names, len(creds) == existing and "tok1" in names and "uv" in names
          and all(c[CM.CRED_PROTECT] == 1 and c[CM.PUBLIC_KEY][3] == ES256 for c in creds))
    check("enumerateCredentials of an RP without any", cm.enumerate_creds(sha256(b"nobody.example")) == [])
    fails("enumerateRPsGetNextRP without enumerateRPsBegin", ERR.NOT_ALLOWED, cm.enumerate_rps_next)

    tok1 = next(c for c in creds if c[CM.USER]["name"] == "tok1")
    cm.update_user_info(tok1[CM.CREDENTIAL_ID], {"id": tok1[CM.USER]["id"], "name": "renamed", "displayName": "Renamed"})
    updated = [c[CM.USER] for c in cm.enumerate_creds(sha256(b"example.com")) if c[CM.USER]["id"] == b"tok-1"]
    check("updateUserInformation: %s" % updated, updated and updated[0]["name"] == "renamed"
          and updated[0]["displayName"] == "Renamed")
    fails("updateUserInformation with another user ID", ERR.INVALID_PARAMETER,
          cm.update_user_info, tok1[CM.CREDENTIAL_ID], {"id": b"someone else", "name": "x"})
    cm.delete_cred(tok1[CM.CREDENTIAL_ID])
    check("deleteCredential", cm.get_metadata()[CM.EXISTING_CRED_COUNT] == existing - 1)
    fails("deleteCredential again", ERR.NO_CREDENTIALS, cm.delete_cred, tok1[CM.CREDENTIAL_ID])

    bound = CredentialManagement(ctap, v2.protocol, v2.get_pin_token(PIN2, PERM.CREDENTIAL_MGMT, "other.example"))
    fails("getCredsMetadata with a token bound to an RP", ERR.PIN_AUTH_INVALID, bound.get_metadata)
    fails("enumerateCredentials of example.com with a token bound to other.example", ERR.PIN_AUTH_INVALID,
          bound.enumerate_creds, sha256(b"example.com"))
    no_cm = CredentialManagement(ctap, v2.protocol, v2.get_pin_token(PIN2, PERM.GET_ASSERTION))
    fails("getCredsMetadata with a ga token", ERR.PIN_AUTH_INVALID, no_cm.get_metadata)

    # The persistent pinUvAuthToken: CTAP 2.2's pcmr permission (0x40),
    # which this python-fido2 knows by number only.
    pcmr = 0x40
    check("getInfo option perCredMgmtRO", ctap.get_info().options.get("perCredMgmtRO") is True)
    persistent = v2.get_pin_token(PIN2, pcmr)
    check("pcmr twice: the same token", v2.get_pin_token(PIN2, pcmr) == persistent)
    ro = CredentialManagement(ctap, v2.protocol, persistent)
    left = ro.enumerate_creds(sha256(b"example.com"))
    check("persistent token: getCredsMetadata and enumerateCredentials",
          ro.get_metadata()[CM.EXISTING_CRED_COUNT] == existing - 1 and len(left) == existing - 1)
    fails("deleteCredential with the persistent token", ERR.PIN_AUTH_INVALID, ro.delete_cred, left[0][CM.CREDENTIAL_ID])
    fails("pcmr with cm", ERR.UNAUTHORIZED_PERMISSION, v2.get_pin_token, PIN2, pcmr | PERM.CREDENTIAL_MGMT)


def config_checks(dev, ctap):
    v1 = ClientPin(ctap, PinProtocolV1())
    cfg = Config(ctap, v1.protocol, v1.get_pin_token(PIN2, PERM.AUTHENTICATOR_CFG))
    cfg.toggle_always_uv()
    info = Ctap2(dev).info
    check("toggleAlwaysUv on: alwaysUv true, makeCredUvNotRqd false",
          info.options.get("alwaysUv") is True and info.options.get("makeCredUvNotRqd") is False)
    cfg.toggle_always_uv()
    check("toggleAlwaysUv off", Ctap2(dev).info.options.get("alwaysUv") is False)
    fails("enableEnterpriseAttestation on an authenticator without it", ERR.INVALID_PARAMETER,
          cfg._call, Config.CMD.ENABLE_ENTERPRISE_ATT)
    fails("Config with an mc token", ERR.PIN_AUTH_INVALID,
          Config(ctap, v1.protocol, v1.get_pin_token(PIN2, PERM.MAKE_CREDENTIAL)).toggle_always_uv)
    fails("Config without a token", ERR.PIN_REQUIRED, Config(ctap).toggle_always_uv)

    cfg = Config(ctap, v1.protocol, v1.get_pin_token(PIN2, PERM.AUTHENTICATOR_CFG))
    cfg.set_min_pin_length(min_pin_length=8, rp_ids=["example.com"])
    info = Ctap2(dev).info
    check("setMinPINLength 8: minPINLength %d, forcePINChange %s" % (info.min_pin_length, info.force_pin_change),
          info.min_pin_length == 8 and info.force_pin_change)
    fails("lowering the minimum PIN length", ERR.PIN_POLICY_VIOLATION, cfg.set_min_pin_length, min_pin_length=6)
    fails("token while a PIN change is forced", ERR.PIN_INVALID, v1.get_pin_token, PIN2, PERM.GET_ASSERTION)
    fails("new PIN shorter than the minimum", ERR.PIN_POLICY_VIOLATION, v1.change_pin, PIN2, "1234567")
    ClientPin(ctap, PinProtocolV2()).change_pin(PIN2, PIN3)
    check("changePIN ends forcePINChange", Ctap2(dev).info.force_pin_change is False)
    v1.get_pin_token(PIN3, PERM.GET_ASSERTION)
    retries(ctap, 8)


def wrong(ctap, code):
    fails("wrong PIN", code, ClientPin(ctap).get_pin_token, "0000", PERM.GET_ASSERTION)


def main(path, phase):
    dev = open_device(path)
    ctap = Ctap2(dev)
    if phase == "main":
        client_pin_checks(dev, ctap)
        fido2_client_checks(dev)
        credential_management_checks(ctap)
        config_checks(dev, ctap)
    elif phase == "lockout":
        ClientPin(ctap).set_pin(PIN1)
        wrong(ctap, ERR.PIN_INVALID)
        wrong(ctap, ERR.PIN_INVALID)
        wrong(ctap, ERR.PIN_AUTH_BLOCKED)
        fails("the right PIN after three wrong ones", ERR.PIN_AUTH_BLOCKED, ClientPin(ctap).get_pin_token, PIN1, PERM.GET_ASSERTION)
        retries(ctap, 5, True)
    elif phase == "restarted":
        retries(ctap, 5)
        ClientPin(ctap).get_pin_token(PIN1, PERM.GET_ASSERTION)
        retries(ctap, 8)
        for code in (ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED):
            wrong(ctap, code)
        retries(ctap, 5, True)
    elif phase == "drain":
        retries(ctap, 5)
        for code in (ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED):
            wrong(ctap, code)
        retries(ctap, 2, True)
    elif phase == "blocked":
        retries(ctap, 2)
        wrong(ctap, ERR.PIN_INVALID)
        wrong(ctap, ERR.PIN_BLOCKED)
        fails("the right PIN when blocked", ERR.PIN_BLOCKED, ClientPin(ctap).get_pin_token, PIN1, PERM.GET_ASSERTION)
        retries(ctap, 0)
    elif phase == "reset":
        retries(ctap, 0)
        fails("the right PIN after a restart", ERR.PIN_BLOCKED, ClientPin(ctap).get_pin_token, PIN1, PERM.GET_ASSERTION)
        ctap.reset()
        check("authenticatorReset: no PIN", Ctap2(dev).info.options.get("clientPin") is False)
        fails("getPINRetries after authenticatorReset", ERR.PIN_NOT_SET, ClientPin(ctap).get_pin_retries)
    else:
        check("unknown phase %s" % phase, False)
    dev.close()
    print("python-fido2 PIN/UV %s: all checks passed" % phase)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
