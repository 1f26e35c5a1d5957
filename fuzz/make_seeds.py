#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/TARGET/seed-* from
tests/vectors/protocol/session.txt and the plaintexts of PROTOCOL.md §8.
Rerun after a wire or harness-format change: python3 fuzz/make_seeds.py

Seeds are named seed-*; libFuzzer names what it finds by hash, and
.gitignore keeps only seed-* files under fuzz/corpus/.
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

wire = {}
for line in (ROOT / "tests/vectors/protocol/session.txt").read_text().splitlines():
    if line and not line.startswith("#"):
        label, hexa = line.split(" = ")
        wire[label] = bytes.fromhex(hexa)


def vec16(b):
    return struct.pack(">H", len(b)) + b


# Plaintext bodies (after the inner type byte), PROTOCOL.md §4.1 and §8.
HELLO = wire["c->s HELLO"][14:]
CHALLENGE = wire["s->c CHALLENGE"][14:]
RESPONSE = wire["client identity public key"] + bytes(range(64)) + bytes(32)
ESTABLISHED = struct.pack(">QI", 10 << 30, 60) + bytes(32)
OFFER = vec16(b"hello.txt") + struct.pack(">QB", 5, 0)
GET = vec16(b"hello.txt")
RESULT_OK = struct.pack(">BH", 0, 0) + vec16(b"")
RESULT_REFUSED = struct.pack(">BH", 4, 0) + vec16(b"no such file")
RESULT_LIMITED = struct.pack(">BH", 8, 30) + vec16(b"rate limit reached")
LISTING = b"\x00" + struct.pack(">H", 1) + vec16(b"notes.txt") + struct.pack(">Qq", 5, 1_764_000_000)
ACCEPT = struct.pack(">Q", 0)
CHUNK = struct.pack(">Q", 0) + b"hello"
END = bytes.fromhex("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")

CLOSE, ALERT, OFFER_T, GET_T, LIST_T, ACCEPT_T, CHUNK_T, END_T, RESULT_T, LISTING_T = (
    0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17)


def rec(inner, body=b""):
    """Operation 0: a record the peer seals (fuzz/src/lib.rs)."""
    return bytes([0, inner]) + struct.pack(">H", len(body)) + body


def key_update(body=b""):
    """Operation 3: a KEY_UPDATE record the peer seals (well-formed when empty,
    but refused: PROTOCOL.md section 2.5 allows it only after 2^21 - 1 records)."""
    return bytes([3, len(body)]) + body


def act(which, arg=0):
    """Operation 4: a local call; numbers as in `Driver::act` and each
    role's `Endpoint::call` in fuzz/src/lib.rs."""
    return bytes([4, which, arg])


def wait(secs):
    """Operation 6: time passes."""
    return bytes([6, secs])


# Shared calls, then each role's own.
CLOSE_C, SHUT_DOWN = 0, 1
S_ACCEPT, S_REFUSE, S_OFFER_DL, S_SEND_LISTING, S_SEND_DATA, S_SEND_RESULT = range(2, 8)
(C_ACCEPT, C_REFUSE, C_REQ_LIST, C_REQ_UPLOAD, C_REQ_DOWNLOAD, C_SEND_DATA, C_SEND_RESULT,
 C_TRUST) = range(2, 10)

seeds = {
    "record_header": {
        name: wire[label][:14]
        for name, label in [("hello", "c->s HELLO"), ("challenge", "s->c CHALLENGE"),
                            ("encrypted", "c->s OFFER")]
    } | {"alert": bytes([2, 3, 0, 0, 0, 1]) + bytes(8)},
    "messages": {
        "hello": b"\x00" + HELLO,
        "challenge": b"\x01" + CHALLENGE,
        "response": b"\x02" + RESPONSE,
        "established": b"\x03" + ESTABLISHED,
        "offer": b"\x04" + OFFER,
        "get": b"\x05" + GET,
        "result": b"\x06" + RESULT_REFUSED,
        "result-limited": b"\x06" + RESULT_LIMITED,
        "listing": b"\x07" + LISTING,
    },
    "name": {
        "plain": b"hello.txt",
        "traversal": b"../../etc/passwd",
        "backslash": b"dir\\file",
        "utf8": "résumé.pdf".encode(),
        "bidi": "\u202eexe.txt".encode(),
    },
    "server_session": {
        # Mode 0: the client's whole recorded session, raw, to a fresh server.
        "raw-handshake": b"\x00" + b"".join(v for k, v in wire.items() if k.startswith("c->s")),
        # Mode 1: recorded application records (the first is number 2) to
        # an established server.
        "raw-list": b"\x01" + wire["c->s LIST"],
        "raw-tampered": b"\x01" + wire["c->s LIST"][:-1] + bytes([wire["c->s LIST"][-1] ^ 1]),
        # Mode 2: sealed records and the server's own calls.
        "list": b"\x02" + rec(LIST_T) + act(S_SEND_LISTING) + rec(CLOSE),
        "upload": b"\x02" + rec(OFFER_T, OFFER) + act(S_ACCEPT) + rec(CHUNK_T, CHUNK)
        + rec(END_T, END) + act(S_SEND_RESULT) + rec(CLOSE),
        "download": b"\x02" + rec(GET_T, GET) + act(S_OFFER_DL, 5) + rec(ACCEPT_T, ACCEPT)
        + act(S_SEND_DATA, 4) + rec(RESULT_T, RESULT_OK) + act(CLOSE_C),
        # Refused with RateLimited (arg: low bits 1, wait 30 s).
        "refuse": b"\x02" + rec(GET_T, GET) + act(S_REFUSE, 30 << 2 | 1) + rec(ALERT, b"\x02"),
        "key-update": b"\x02" + key_update() + rec(LIST_T) + key_update()
        + act(S_SEND_LISTING, 1) + rec(CLOSE),
        "key-update-body": b"\x02" + key_update(b"\x00"),
        "shut-down": b"\x02" + rec(GET_T, GET) + act(SHUT_DOWN),
        # A GET with an empty name crosses the server's CLOSE: no RESULT 2
        # may follow the CLOSE.
        "close-crossing": b"\x02" + act(CLOSE_C) + rec(GET_T, vec16(b"")) + rec(CLOSE),
    },
    "client_session": {
        "raw-handshake": b"\x00" + wire["s->c CHALLENGE"] + wire["s->c SESSION_ESTABLISHED"],
        # Mode 4: the client asks whether to trust the server key.
        "raw-handshake-ask": b"\x04" + wire["s->c CHALLENGE"] + wire["s->c SESSION_ESTABLISHED"],
        "raw-listing": b"\x01" + wire["s->c LISTING"],
        "list": b"\x02" + act(C_REQ_LIST) + rec(LISTING_T, LISTING) + act(CLOSE_C) + rec(CLOSE),
        "upload": b"\x02" + act(C_REQ_UPLOAD, 5) + rec(ACCEPT_T, ACCEPT) + act(C_SEND_DATA, 4)
        + rec(RESULT_T, RESULT_OK),
        "download": b"\x02" + act(C_REQ_DOWNLOAD) + rec(OFFER_T, OFFER) + act(C_ACCEPT)
        + rec(CHUNK_T, CHUNK) + rec(END_T, END) + act(C_SEND_RESULT),
        "refused": b"\x02" + act(C_REQ_DOWNLOAD) + rec(RESULT_T, RESULT_REFUSED) + wait(61),
        "key-update": b"\x02" + key_update() + act(C_REQ_LIST) + key_update()
        + rec(RESULT_T, RESULT_LIMITED) + act(CLOSE_C) + rec(CLOSE),
        "shut-down": b"\x02" + act(C_REQ_LIST) + act(SHUT_DOWN),
        # The ACCEPT of an empty upload crosses the client's CLOSE: no END
        # may follow the CLOSE.
        "close-crossing": b"\x02" + act(C_REQ_UPLOAD, 0) + act(CLOSE_C) + rec(ACCEPT_T, ACCEPT)
        + rec(CLOSE),
    },
}

for target, files in seeds.items():
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for name, data in files.items():
        (d / f"seed-{name}").write_bytes(data)
    print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")
