#!/usr/bin/env python3
"""Writes fixtures.json for tests/unit/test_jwt.c: a JWKS and a set of ID
tokens, made with an implementation independent of ours (Python's
`cryptography`), from RSA keys made by OpenSSL's command line:

    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key-1.pem
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key-2.pem
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out key-small.pem
    python3 make-fixtures.py > fixtures.json

Run once; the output is committed. Times are fixed: the test passes its
own "now" to the claims check.
"""
import base64
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ISSUER = "https://accounts.haravan.test"
CLIENT_ID = "crm-client-4f2a"
NONCE = "n-0S6_WzA2Mj"
NOW = 1767225600  # 2026-01-01T00:00:00Z
CODE = "SplxlOBeZQQYbYS6WxSbIA"
ACCESS_TOKEN = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load(path):
    with open(path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def int_bytes(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def jwk(key, kid):
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64url(int_bytes(numbers.n)), "e": b64url(int_bytes(numbers.e))}


def half_hash(value):
    return b64url(hashlib.sha256(value.encode()).digest()[:16])


def encode(header, claims):
    return (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
            b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()))


def rs256(key, header, claims):
    signing_input = encode(header, claims)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


def claims(**changes):
    base = {"iss": ISSUER, "aud": CLIENT_ID, "exp": NOW + 3600, "iat": NOW, "nbf": NOW,
            "nonce": NONCE, "sub": "200000905615", "orgid": "1000114691",
            "orgname": "Cửa hàng Thử", "role": ["admin"], "email": "owner@shop.test",
            "name": "Chủ shop", "c_hash": half_hash(CODE)}
    for name, value in changes.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def main():
    key1, key2, small = load("key-1.pem"), load("key-2.pem"), load("key-small.pem")
    header = {"alg": "RS256", "kid": "key-1", "typ": "JWT"}
    jwks = {"keys": [jwk(key1, "key-1"), jwk(key2, "key-2"), jwk(small, "key-small"),
                     {"kty": "EC", "use": "sig", "kid": "ec-key", "crv": "P-256",
                      "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                     dict(jwk(key2, "enc-key"), use="enc")]}
    good = rs256(key1, header, claims())
    head, body, signature = good.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[len(raw) // 2] ^= 0x01
    tokens = {
        "valid": good,
        "valid_key_2": rs256(key2, dict(header, kid="key-2"), claims()),
        "aud_array": rs256(key1, header, claims(aud=["other-app", CLIENT_ID], azp=CLIENT_ID)),
        "role_string": rs256(key1, header, claims(role="admin")),
        "role_staff": rs256(key1, header, claims(role="staff")),
        "no_kid": rs256(key1, {"alg": "RS256"}, claims()),
        "wrong_signature": head + "." + body + "." + b64url(bytes(raw)),
        "payload_swapped": head + "." + encode(header, claims(orgid="999")).split(".")[1] + "." +
                           signature,
        "signed_by_key_2_as_key_1": rs256(key2, header, claims()),
        "unknown_kid": rs256(key1, dict(header, kid="key-9"), claims()),
        "small_key": rs256(small, dict(header, kid="key-small"), claims()),
        "expired": rs256(key1, header, claims(iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 121)),
        "expired_within_skew": rs256(key1, header, claims(exp=NOW - 119)),
        "issued_in_future": rs256(key1, header, claims(iat=NOW + 600, nbf=NOW + 600)),
        "no_exp": rs256(key1, header, claims(exp=None)),
        "no_iat": rs256(key1, header, claims(iat=None)),
        "exp_as_string": rs256(key1, header, claims(exp=str(NOW + 3600))),
        "wrong_aud": rs256(key1, header, claims(aud="other-app")),
        "aud_array_without_us": rs256(key1, header, claims(aud=["a", "b"])),
        "wrong_azp": rs256(key1, header, claims(azp="other-app")),
        "wrong_iss": rs256(key1, header, claims(iss="https://accounts.evil.test")),
        "wrong_nonce": rs256(key1, header, claims(nonce="another-nonce")),
        "no_nonce": rs256(key1, header, claims(nonce=None)),
        "wrong_c_hash": rs256(key1, header, claims(c_hash=half_hash("another-code"))),
        "at_hash": rs256(key1, header, claims(c_hash=None, at_hash=half_hash(ACCESS_TOKEN))),
        "no_c_hash": rs256(key1, header, claims(c_hash=None)),
        "c_hash_not_string": rs256(key1, header, claims(c_hash=12345)),
        "no_at_hash": rs256(key1, header, claims(c_hash=None)),
        "wrong_at_hash": rs256(key1, header, claims(c_hash=None,
                                                    at_hash=half_hash("another-token"))),
        "crit_header": rs256(key1, dict(header, crit=["exp"]), claims()),
        "alg_none": encode({"alg": "none", "kid": "key-1"}, claims()) + ".",
        "alg_none_signed": encode({"alg": "none", "kid": "key-1"}, claims()) + "." + signature,
        "alg_hs256": None,  # below
        "alg_rs512": None,
    }
    # HS256 keyed with the public key's modulus: the classic confusion of a
    # verifier that lets the token choose its algorithm.
    hs_input = encode({"alg": "HS256", "kid": "key-1"}, claims())
    secret = jwks["keys"][0]["n"].encode()
    tokens["alg_hs256"] = hs_input + "." + b64url(
        hmac.new(secret, hs_input.encode(), hashlib.sha256).digest())
    rs512_input = encode({"alg": "RS512", "kid": "key-1"}, claims())
    tokens["alg_rs512"] = rs512_input + "." + b64url(
        key1.sign(rs512_input.encode(), padding.PKCS1v15(), hashes.SHA512()))
    print(json.dumps({"issuer": ISSUER, "client_id": CLIENT_ID, "nonce": NONCE, "now": NOW,
                      "code": CODE, "access_token": ACCESS_TOKEN, "jwks": jwks,
                      "tokens": tokens}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
