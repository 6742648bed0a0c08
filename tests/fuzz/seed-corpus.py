#!/usr/bin/env python3
"""seed-corpus.py: writes tests/fuzz/corpus/<target>/ from the tests' own data.

Run once from the repository root when the data or the unit tests gain
cases; its output is committed (small files, one input each, named by the
SHA-1 of their bytes as libFuzzer names its own). Sources: tests/data/samples,
tests/data/jwt/fixtures.json, tests/data/signatures.txt,
tests/data/vn-phone-prefix-2018.csv and the C string literals of the unit
tests (tests/unit/test_*.c) that are cases of each target's input.
Inputs a fuzzer found (regress-*) are kept, never rewritten here.
"""
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
SAMPLES = os.path.join(ROOT, "tests", "data", "samples")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_literals(name):
    """The string literals of tests/unit/<name>, adjacent ones joined, escapes decoded."""
    text = open(os.path.join(ROOT, "tests", "unit", name), encoding="utf-8").read()
    text = re.sub(r'"\s*\n\s*"', "", text)  # "a" "b" across lines
    out = []
    for match in LITERAL.finditer(text):
        raw = match.group(1)
        try:
            out.append(raw.encode("utf-8").decode("unicode_escape").encode("latin-1"))
        except (UnicodeDecodeError, UnicodeEncodeError):
            out.append(raw.encode("utf-8"))
    return out


def write(target, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha1(data).hexdigest())
    with open(path, "wb") as handle:
        handle.write(data)


def sample_bodies():
    for name in sorted(os.listdir(SAMPLES)):
        data = open(os.path.join(SAMPLES, name), "rb").read()
        if name.endswith(".http.txt"):  # request head, blank line, body
            data = data.split(b"\r\n\r\n", 1)[-1].split(b"\n\n", 1)[-1]
        if name.endswith((".json", ".txt")):
            yield name, data


def payload():
    for _, data in sample_bodies():
        write("payload", data)
    for name in ("test_json.c", "test_json_peek.c", "test_payload.c", "test_webhook.c"):
        for literal in c_literals(name):
            if literal[:1] in (b"{", b"[") and len(literal) > 2:
                write("payload", literal)


def phone():
    for literal in c_literals("test_phone.c"):
        if 3 <= len(literal) <= 40:
            write("phone", literal)
    for line in open(os.path.join(ROOT, "tests", "data", "vn-phone-prefix-2018.csv")):
        old = line.split(",")[0].strip()
        if old.isdigit():
            write("phone", (old + "1234567").encode())


def form():
    for name in ("test_form.c", "test_settings_form.c"):
        for literal in c_literals(name):
            if b"=" in literal:
                write("form", literal)
    for literal in c_literals("test_cookie.c"):
        if b"=" in literal:  # the target reads "name\nheader"
            write("form", b"hv_admin\n" + literal)


def jwt():
    fixtures = json.load(open(os.path.join(ROOT, "tests", "data", "jwt", "fixtures.json")))
    for token in fixtures["tokens"].values():
        write("jwt", token.encode())


def jwks():
    fixtures = json.load(open(os.path.join(ROOT, "tests", "data", "jwt", "fixtures.json")))
    write("jwks", json.dumps(fixtures["jwks"]).encode())
    for literal in c_literals("test_oidc.c"):
        if literal[:1] == b"{":
            write("jwks", literal)
    write("jwks", json.dumps({
        "issuer": "https://accounts.haravan.com",
        "authorization_endpoint": "https://accounts.haravan.com/connect/authorize",
        "token_endpoint": "https://accounts.haravan.com/connect/token",
        "jwks_uri": "https://accounts.haravan.com/.well-known/openid-configuration/jwks",
    }).encode())


def signature():
    bodies = dict(sample_bodies())
    for line in open(os.path.join(ROOT, "tests", "data", "signatures.txt")):
        if line.startswith("#") or not line.strip():
            continue
        _secret, name, expected = line.rstrip("\n").split("\t")
        write("signature", expected.encode() + b"\n\n" + bodies[name])
        write("signature", b"bm90IGl0\n" + expected.encode() + b"\n\n" + bodies[name])
        # A repeated header as nginx joins it, blanks and an empty element.
        write("signature", b" bm90IGl0 ,\t" + expected.encode() + b" ,, \n\n" + bodies[name])


if __name__ == "__main__":
    for make in (payload, phone, form, jwt, jwks, signature):
        make()
    for target in sorted(os.listdir(CORPUS)):
        print(target, len(os.listdir(os.path.join(CORPUS, target))), file=sys.stderr)
