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
MT = 1_764_000_000
HELLO = wire["c->s HELLO"][14:]
CHALLENGE = wire["s->c CHALLENGE"][14:]
RESPONSE = wire["client identity public key"] + bytes(range(64)) + bytes(32)
ESTABLISHED = struct.pack(">QI", 10 << 30, 60) + bytes(32)


def meta(mode, mtime):
    return struct.pack(">Hq", mode, mtime)


def offer(path, size, flags=0, mode=0, mtime=0):
    return vec16(path) + struct.pack(">QB", size, flags) + meta(mode, mtime)


def mkdir(path, flags=0, mode=0, mtime=0):
    return vec16(path) + bytes([flags]) + meta(mode, mtime)


# SHA-256 of the empty string: the prefix hash of offset 0.
EMPTY_SHA256 = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def get(path, max_size=10 << 30):
    """A GET holding nothing: offset 0 and SHA-256("")."""
    return vec16(path) + struct.pack(">QQ", max_size, 0) + EMPTY_SHA256


LIST_ROOT = vec16(b"")
RESULT_OK = struct.pack(">BH", 0, 0) + vec16(b"")
RESULT_EXISTS = struct.pack(">BH", 1, 0) + vec16(b"exists")
RESULT_REFUSED = struct.pack(">BH", 4, 0) + vec16(b"no such file")
RESULT_LIMITED = struct.pack(">BH", 8, 30) + vec16(b"rate limit reached")
LISTING = (b"\x00" + struct.pack(">H", 2)
           + b"\x00" + vec16(b"notes.txt") + struct.pack(">Qq", 5, MT) + struct.pack(">H", 0o644)
           + b"\x01" + vec16(b"docs") + struct.pack(">Qq", 0, MT) + struct.pack(">H", 0o755))
CHUNK = struct.pack(">Q", 0) + b"hello"
END = bytes.fromhex("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
# The download the harness's server sends: send_data(arg 4) is 5 bytes "x".
CHUNK_X = struct.pack(">Q", 0) + b"xxxxx"

CLOSE, ALERT, OFFER_T, GET_T, LIST_T, CHUNK_T, END_T, RESULT_T, LISTING_T, MKDIR_T, RESUME_T = (
    0x01, 0x02, 0x10, 0x11, 0x12, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19)
# RESUME holding nothing: offset 0 and SHA-256("").
RESUME_NONE = struct.pack(">Q", 0) + EMPTY_SHA256


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
(S_ACCEPT, S_REFUSE_UPLOAD, S_ANSWER, S_REFUSE, S_OFFER_DL, S_SEND_LISTING,
 S_SEND_DATA, S_ACCEPT_RESUME, S_ABANDON) = range(2, 11)
(C_REQ_LIST, C_REQ_UPLOAD, C_REQ_DOWNLOAD, C_REQ_MKDIR, C_SEND_DATA, C_TRUST,
 C_RESUME_UPLOAD, C_REQ_UPLOAD_RESUME, C_ABANDON) = range(2, 11)


def c_arg(path=0, size=0, overwrite=False, meta=False, unlimited=False):
    """The client calls' argument: path index (hello.txt, photos/a.txt,
    photos, ../x; 0 lists the root), size or max_size, overwrite, meta,
    unlimited max_size."""
    return path << 6 | size | (16 if overwrite or unlimited else 0) | (32 if meta else 0)


def s_answer(index, ok=True):
    """answer's argument: the ticket index among those owed, Ok or IoError."""
    return index << 1 | (0 if ok else 1)


seeds = {
    "record_header": {
        name: wire[label][:14]
        for name, label in [("hello", "c->s HELLO"), ("challenge", "s->c CHALLENGE"),
                            ("encrypted", "c->s GET")]
    } | {"alert": bytes([4, 3, 0, 0, 0, 1]) + bytes(8)},
    "messages": {
        "hello": b"\x00" + HELLO,
        "challenge": b"\x01" + CHALLENGE,
        "response": b"\x02" + RESPONSE,
        "established": b"\x03" + ESTABLISHED,
        "offer": b"\x04" + offer(b"photos/a.txt", 5, 2, 0o644, MT),
        "get": b"\x05" + get(b"notes.txt"),
        "result": b"\x06" + RESULT_REFUSED,
        "result-limited": b"\x06" + RESULT_LIMITED,
        "listing": b"\x07" + LISTING,
        "mkdir": b"\x08" + mkdir(b"photos", 1, 0o755, MT),
        "list": b"\x09" + vec16(b"photos"),
        "resume": b"\x0a" + struct.pack(">Q", 7) + bytes(range(32)),
    },
    "name": {
        "plain": b"hello.txt",
        "path": b"photos/x/c.jpg",
        "traversal": b"../../etc/passwd",
        "backslash": b"dir\\file",
        "drive": b"a/C:x",
        "utf8": "résumé.pdf".encode(),
        "bidi": "\u202eexe.txt".encode(),
        "deep": b"/".join([b"d"] * 65),
    },
    "server_session": {
        # Mode 0: the client's whole recorded session, raw, to a fresh
        # server: it stops reading at the LIST (no listing is sent).
        "raw-handshake": b"\x00" + b"".join(v for k, v in wire.items() if k.startswith("c->s")),
        # Mode 1: recorded application records (the first is number 2) to
        # an established server.
        "raw-list": b"\x01" + wire["c->s LIST"],
        "raw-tampered": b"\x01" + wire["c->s LIST"][:-1] + bytes([wire["c->s LIST"][-1] ^ 1]),
        # Mode 2: sealed records and the server's own calls.
        "list": b"\x02" + rec(LIST_T, LIST_ROOT) + act(S_SEND_LISTING) + rec(CLOSE),
        "upload": b"\x02" + rec(OFFER_T, offer(b"hello.txt", 5)) + act(S_ACCEPT)
        + rec(CHUNK_T, CHUNK) + rec(END_T, END) + act(S_ANSWER) + rec(CLOSE),
        # PROTOCOL.md §8's batch and a GET held behind it; the three answers
        # given last first.
        "pipelined": b"\x02" + rec(MKDIR_T, mkdir(b"photos"))
        + rec(OFFER_T, offer(b"photos/a.txt", 5, 2, 0o644, MT)) + rec(CHUNK_T, CHUNK)
        + rec(END_T, END) + rec(MKDIR_T, mkdir(b"photos", 1, 0o755, MT))
        + rec(GET_T, get(b"photos/a.txt")) + act(S_ACCEPT)
        + act(S_ANSWER, s_answer(2)) + act(S_ANSWER, s_answer(1)) + act(S_ANSWER, s_answer(0))
        + act(S_OFFER_DL, 5) + act(S_SEND_DATA, 4) + rec(CLOSE),
        # An upload offered for resume, nothing held: RESUME 0 both ways,
        # then its data; then a download the server abandons half-way.
        "resume": b"\x02" + rec(OFFER_T, offer(b"hello.txt", 5, 4)) + act(S_ACCEPT_RESUME)
        + rec(RESUME_T, RESUME_NONE) + rec(CHUNK_T, CHUNK) + rec(END_T, END) + act(S_ANSWER)
        + rec(GET_T, get(b"hello.txt")) + act(S_OFFER_DL, 10) + act(S_SEND_DATA, 4)
        + act(S_ABANDON) + rec(CLOSE),
        # A refused upload's data skipped up to END, then a MKDIR.
        "skip": b"\x02" + rec(OFFER_T, offer(b"hello.txt", 5)) + act(S_REFUSE_UPLOAD)
        + rec(CHUNK_T, CHUNK) + rec(END_T, bytes(32)) + rec(MKDIR_T, mkdir(b"photos")),
        "download": b"\x02" + rec(GET_T, get(b"hello.txt")) + act(S_OFFER_DL, 5)
        + act(S_SEND_DATA, 4) + act(CLOSE_C),
        # Refused with RateLimited (arg: low bits 1, wait 30 s).
        "refuse": b"\x02" + rec(GET_T, get(b"hello.txt")) + act(S_REFUSE, 30 << 2 | 1)
        + rec(ALERT, b"\x02"),
        # The peer's KEY_UPDATE, well-formed but refused: an input never
        # reaches record 2^21 - 1 of a key (PROTOCOL.md section 2.5).
        "key-update": b"\x02" + rec(LIST_T, LIST_ROOT) + act(S_SEND_LISTING, 1) + key_update(),
        "key-update-body": b"\x02" + key_update(b"\x00"),
        "shut-down": b"\x02" + rec(GET_T, get(b"hello.txt")) + act(SHUT_DOWN),
        # A GET with an empty path crosses the server's CLOSE: dropped, and
        # no RESULT 2 may follow the CLOSE.
        "close-crossing": b"\x02" + act(CLOSE_C) + rec(GET_T, get(b"")) + rec(CLOSE),
    },
    "client_session": {
        "raw-handshake": b"\x00" + wire["s->c CHALLENGE"] + wire["s->c SESSION_ESTABLISHED"],
        # Mode 4: the client asks whether to trust the server key.
        "raw-handshake-ask": b"\x04" + wire["s->c CHALLENGE"] + wire["s->c SESSION_ESTABLISHED"],
        "raw-listing": b"\x01" + wire["s->c LISTING"],
        "list": b"\x02" + act(C_REQ_LIST) + rec(LISTING_T, LISTING) + act(CLOSE_C) + rec(CLOSE),
        "upload": b"\x02" + act(C_REQ_UPLOAD, c_arg(size=5)) + act(C_SEND_DATA, 4)
        + rec(RESULT_T, RESULT_OK),
        # PROTOCOL.md §8's batch, its three RESULTs, then a download.
        "pipelined": b"\x02" + act(C_REQ_MKDIR, c_arg(path=2))
        + act(C_REQ_UPLOAD, c_arg(path=1, size=5, meta=True)) + act(C_SEND_DATA, 4)
        + act(C_REQ_MKDIR, c_arg(path=2, meta=True)) + rec(RESULT_T, RESULT_OK) * 3
        + act(C_REQ_DOWNLOAD, c_arg(unlimited=True))
        + rec(OFFER_T, offer(b"hello.txt", 5, 0, 0o644, MT)) + rec(CHUNK_T, CHUNK)
        + rec(END_T, END) + act(CLOSE_C) + rec(CLOSE),
        # An upload offered for resume: the server holds nothing, the
        # client sends it whole; then an upload it abandons half-way.
        "resume": b"\x02" + act(C_REQ_UPLOAD_RESUME, c_arg(size=5))
        + rec(RESUME_T, RESUME_NONE) + act(C_RESUME_UPLOAD) + act(C_SEND_DATA, 4)
        + rec(RESULT_T, RESULT_OK) + act(C_REQ_UPLOAD, c_arg(size=10)) + act(C_SEND_DATA, 4)
        + act(C_ABANDON) + rec(RESULT_T, RESULT_EXISTS) + act(CLOSE_C) + rec(CLOSE),
        # The upload being sent is refused: the client cuts it with END and
        # asks again.
        "cut": b"\x02" + act(C_REQ_UPLOAD, c_arg(size=10)) + act(C_SEND_DATA, 4)
        + rec(RESULT_T, RESULT_EXISTS) + act(C_REQ_LIST),
        "download": b"\x02" + act(C_REQ_DOWNLOAD, c_arg(size=5))
        + rec(OFFER_T, offer(b"hello.txt", 5)) + rec(CHUNK_T, CHUNK) + rec(END_T, END),
        "refused": b"\x02" + act(C_REQ_DOWNLOAD, c_arg(size=5)) + rec(RESULT_T, RESULT_REFUSED)
        + wait(61),
        "key-update": b"\x02" + act(C_REQ_LIST) + rec(RESULT_T, RESULT_LIMITED) + key_update(),
        "shut-down": b"\x02" + act(C_REQ_LIST) + act(SHUT_DOWN),
        # The refusal of the upload being sent crosses the client's CLOSE:
        # no END may follow the CLOSE.
        "close-crossing": b"\x02" + act(C_REQ_UPLOAD, c_arg(size=10)) + act(C_SEND_DATA, 4)
        + act(CLOSE_C) + rec(RESULT_T, RESULT_EXISTS) + rec(CLOSE),
    },
}



def audit_seeds():
    """Audit logs (docs/AUDIT.md) signed by the session's identity keys
    (client seed 11*32, server seed 22*32: the fuzz target's host key), or
    None without the `cryptography` package (the seeds are then kept)."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    except ImportError:
        print("audit_verify: seeds kept (python3 cryptography package missing)")
        return None
    import hashlib
    import json

    client = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
    server = Ed25519PrivateKey.from_private_bytes(b"\x22" * 32)
    pub = lambda k: k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    th = hashlib.sha256(b"transcript").digest()

    def statement(direction, path, data):
        """The fields and signature of a statement (src/proto/evidence.rs)."""
        context = b"sft/5 %s statement\0" % direction.encode()
        fields = {"client": pub(client).hex(), "server": pub(server).hex(),
                  "transcript_hash": th.hex(), "path": path, "size": len(data),
                  "sha256": hashlib.sha256(data).hexdigest(), "stated_time": MT}
        signed = (context + pub(client) + pub(server) + th + vec16(path.encode())
                  + struct.pack(">Q", len(data)) + hashlib.sha256(data).digest()
                  + struct.pack(">Q", MT))
        sig = (client if direction == "upload" else server).sign(signed)
        return fields, signed, sig

    def log(groups):
        lines, prev, seq = [], bytes(32), 0
        for time, entries in groups:
            for kind, args in entries + [("head", None)]:
                seq += 1
                e = {"seq": seq, "prev": prev.hex(), "kind": kind, "time": time}
                if kind == "refusal":
                    e.update(client=pub(client).hex(), request="download", path=args,
                             code=4, reason="no such file")
                elif kind == "head":
                    head = b"sft/5 audit head\0" + struct.pack(">QQ", seq, time) + prev
                    e["sig"] = server.sign(head).hex()
                else:
                    fields, signed, sig = statement(kind, *args)
                    e.update(fields, statement_sig=sig.hex())
                    if kind == "upload":
                        receipt = (b"sft/5 upload receipt\0" + signed + sig
                                   + struct.pack(">QQ", time, seq))
                        e["receipt_sig"] = server.sign(receipt).hex()
                text = json.dumps(e, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()
                lines.append(text)
                prev = hashlib.sha256(text).digest()
        return b"".join(line + b"\n" for line in lines)

    honest = [(MT + 1, [("upload", ("photos/a.txt", b"hello")), ("refusal", "secret"),
                        ("download", ("photos/a.txt", b"hello"))]),
              (MT + 2, [("refusal", "x/\u00e9\n"), ("upload", ("b.txt", b""))])]
    whole = log(honest)
    return {
        "log": whole,
        "one-refusal": log([(MT, [("refusal", "a")])]),
        # Cut before its last head: entries 5 and 6 are not covered.
        "cut": b"".join(whole.splitlines(keepends=True)[:-1]),
        "one-line": whole.splitlines(keepends=True)[0],
    }


audit = audit_seeds()
if audit is not None:
    seeds["audit_verify"] = audit

for target, files in seeds.items():
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for name, data in files.items():
        (d / f"seed-{name}").write_bytes(data)
    print(f"{target}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")
