"""Platform side of the PIN/UV auth protocols, done by python-fido2.

pinuv's tests run this with /usr/bin/python3 to check the Go authenticator
side against an independent implementation. Values travel as hex in JSON.

  fido2_platform.py kdf VERSION Z
      Print {"sharedSecret": kdf(Z)}.
  fido2_platform.py session VERSION X Y PIN MESSAGE
      Encapsulate against the authenticator key (X, Y), then print the
      platform key, newPinEnc (the padded PIN), pinHashEnc, and the
      pinUvAuthParams of setPIN and changePIN. Then read one line, the
      authenticator's pinUvAuthToken encrypted under the shared secret, and
      print the token and its pinUvAuthParam over MESSAGE.
"""

import json
import sys

from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2, _pad_pin
from fido2.utils import sha256

PROTOCOLS = {1: PinProtocolV1, 2: PinProtocolV2}


def emit(**values):
    print(json.dumps({k: v.hex() for k, v in values.items()}), flush=True)


def main(argv):
    mode, proto = argv[1], PROTOCOLS[int(argv[2])]()
    if mode == "kdf":
        emit(sharedSecret=proto.kdf(bytes.fromhex(argv[3])))
        return
    x, y, pin, message = argv[3], argv[4], argv[5], bytes.fromhex(argv[6])
    key_agreement, secret = proto.encapsulate(
        {-2: bytes.fromhex(x), -3: bytes.fromhex(y)}
    )
    new_pin_enc = proto.encrypt(secret, _pad_pin(pin))
    pin_hash_enc = proto.encrypt(secret, sha256(pin.encode())[:16])
    emit(
        x=key_agreement[-2],
        y=key_agreement[-3],
        newPinEnc=new_pin_enc,
        pinHashEnc=pin_hash_enc,
        setPinParam=proto.authenticate(secret, new_pin_enc),
        changePinParam=proto.authenticate(secret, new_pin_enc + pin_hash_enc),
    )
    token = proto.validate_token(
        proto.decrypt(secret, bytes.fromhex(sys.stdin.readline().strip()))
    )
    emit(token=token, param=proto.authenticate(token, message))


if __name__ == "__main__":
    main(sys.argv)
