#!/usr/bin/env python3
"""Verify a ctg-exchange audit export without ctg-exchange.

Written from docs/audit-format.md alone, so an auditor can read it in one sitting and trust the
result without trusting the tool that wrote the export. It needs Python 3.9+ and, for Ed25519,
the `cryptography` package (`pip install cryptography`); without it, it calls OpenSSH's
`ssh-keygen -Y verify` for each signature (slower, same result).

    python3 verify_audit_export.py EXPORT.jsonl [--allowed-signers FILE]

--allowed-signers takes the members' keys from an OpenSSH allowed_signers file you obtained
yourself (from each party), instead of trusting the keys inside the export.

It checks every event's hash, its signature by its actor (a member at that time, holding the
role the action needs, with the key it held then: a replaced key signed only up to its
replacement, and only the member or, for a lost key, an admin of its party replaces it), the
chain between consecutive events, the signed checkpoints, and either every checkpoint's Merkle
root (a complete export) or every event's inclusion proof (a partial one). It prints each
failure as `event #N: …` and exits 1, or prints a summary and exits 0.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

FORMAT = "ctg-exchange/audit-export@v1"
EVENT_PREFIX = b"ctg-exchange/event@v1\n"
NS_EVENT = "ctg-exchange/event@v1"
NS_CHECKPOINT = "ctg-exchange/checkpoint@v1"
KEY_ID_TYPE = b"\xffctg-exchange/sshsig@v1"
CLOCK_SKEW = datetime.timedelta(minutes=5)
BODY_KEYS = (
    "v",
    "log",
    "seq",
    "time",
    "actor",
    "party",
    "role",
    "action",
    "subject",
    "payload",
    "prev",
)
ADMIN_ONLY = (
    "workspace.init",
    "member.add",
    "member.revoke",
    "member.contact",
    "keys.encryption",
    "convention.renewal",
    "convention.amendment",
    "convention.termination",
    "convention.countersignature",
    "convention.withdrawal",
    "convention.successor",
)
ROLE_OF = {
    **dict.fromkeys(ADMIN_ONLY, ("admin",)),
    "register.export": ("admin", "dpo"),
    "register.version": ("admin", "dpo", "controller"),
    "request.file": ("staff",),
    "request.amend": ("staff",),
    "request.withdraw": ("staff",),
    "study.accept": ("controller",),
    "study.return": ("controller",),
    "study.submit": ("controller",),
    "decide.approve": ("controller",),
    "decide.reject": ("controller",),
    "conditions.accept": ("controller",),
    "dpo.opinion": ("dpo",),
    "dpo.annotate": ("dpo",),
    "dpo.advise": ("dpo",),
    "request.lapse": ("admin",),
    "exchange.send": ("staff",),
    "exchange.receive": ("staff",),
    "retention.destroy": ("staff",),
    "exchange.suspend": ("controller",),
    "exchange.resume": ("controller",),
    "review.record": ("controller",),
    # an auditor takes no action: its role is in no list (issue 19)
    "request.hand_over": ("staff", "controller", "admin"),
    # a member replaces its own key (any role it holds), an admin of its party a lost one
    "keys.rotate": ("admin", "controller", "dpo", "staff"),
}


# -- wire formats -------------------------------------------------------------------------------
def ssh_string(data):
    return struct.pack(">I", len(data)) + data


def read_strings(blob, count):
    out, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(blob):
            raise ValueError("truncated")
        (n,) = struct.unpack(">I", blob[pos : pos + 4])
        out.append(blob[pos + 4 : pos + 4 + n])
        if len(out[-1]) != n:
            raise ValueError("truncated")
        pos += 4 + n
    return out, blob[pos:]


def parse_openssh_key(text):
    kind, b64 = text.split()[:2]
    blob = base64.b64decode(b64)
    (key_type, raw), rest = read_strings(blob, 2)
    if kind != "ssh-ed25519" or key_type != b"ssh-ed25519" or len(raw) != 32 or rest:
        raise ValueError("not an ssh-ed25519 key")
    return blob, raw


def canonical(value):
    def check(v):
        if isinstance(v, float):
            raise ValueError("a float in an event")
        for item in v.values() if isinstance(v, dict) else v if isinstance(v, list) else ():
            check(item)

    check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- SSHSIG (OpenSSH PROTOCOL.sshsig) ---------------------------------------------------------
def sshsig_check(key_blob, raw_key, namespace, message, sig_blob):
    """True when sig_blob is key's SSHSIG of message under namespace."""
    if sig_blob[:6] != b"SSHSIG" or sig_blob[6:10] != b"\x00\x00\x00\x01":
        return False
    try:
        (signer, ns, _reserved, hash_alg, wrapped), rest = read_strings(sig_blob[10:], 5)
        (sig_type, raw_sig), rest2 = read_strings(wrapped, 2)
    except ValueError:
        return False
    if (
        rest
        or rest2
        or signer != key_blob
        or ns != namespace.encode()
        or sig_type != b"ssh-ed25519"
    ):
        return False
    if hash_alg not in (b"sha256", b"sha512"):
        return False
    digest = hashlib.new(hash_alg.decode(), message).digest()
    signed = (
        b"SSHSIG"
        + ssh_string(namespace.encode())
        + ssh_string(b"")
        + ssh_string(hash_alg)
        + ssh_string(digest)
    )
    return ed25519_verify(raw_key, raw_sig, signed, key_blob, namespace, message, sig_blob)


def ed25519_verify(raw_key, raw_sig, signed, key_blob, namespace, message, sig_blob):
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return ssh_keygen_verify(key_blob, namespace, message, sig_blob)
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, signed)
        return True
    except InvalidSignature:
        return False


def ssh_keygen_verify(key_blob, namespace, message, sig_blob):
    if shutil.which("ssh-keygen") is None:
        sys.exit("needs the `cryptography` package or OpenSSH's ssh-keygen")
    armored = base64.b64encode(sig_blob).decode()
    armored = "\n".join(armored[i : i + 70] for i in range(0, len(armored), 70))
    with tempfile.TemporaryDirectory() as tmp:
        signers, sig = os.path.join(tmp, "signers"), os.path.join(tmp, "sig")
        with open(signers, "w") as f:
            f.write("signer ssh-ed25519 " + base64.b64encode(key_blob).decode() + "\n")
        with open(sig, "w") as f:
            f.write(f"-----BEGIN SSH SIGNATURE-----\n{armored}\n-----END SSH SIGNATURE-----\n")
        done = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                signers,
                "-I",
                "signer",
                "-n",
                namespace,
                "-s",
                sig,
            ],
            input=message,
            capture_output=True,
        )
    return done.returncode == 0


# -- RFC 9162 Merkle tree -----------------------------------------------------------------------
def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class Tree:
    """The right edge of a growing tree: its perfect subtrees, left to right."""

    def __init__(self):
        self.size, self.edge = 0, []

    def append(self, leaf):
        level, value = 0, leaf
        while self.edge and self.edge[-1][0] == level:
            value = node_hash(self.edge.pop()[1], value)
            level += 1
        self.edge.append((level, value))
        self.size += 1

    def root(self):
        if not self.edge:
            return hashlib.sha256(b"").digest()
        value = self.edge[-1][1]
        for _, left in reversed(self.edge[:-1]):
            value = node_hash(left, value)
        return value


def root_from_proof(index, size, leaf, proof):
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or None."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


# -- checkpoints (C2SP signed note + tlog-checkpoint) -------------------------------------------
def parse_checkpoint(note):
    split = note.rfind("\n\n")
    text, sigs = note[: split + 1], note[split + 2 :]
    origin, size, root = text.split("\n")[:3]
    lines = [line for line in sigs.split("\n") if line]
    signatures = []
    for line in lines:
        dash, name, b64 = line.split(" ")
        if dash != "\u2014":
            raise ValueError("malformed signature line")
        raw = base64.b64decode(b64)
        signatures.append((name, raw[:4], raw[4:]))
    return text, origin, int(size), base64.b64decode(root), signatures


# -- the verification ---------------------------------------------------------------------------
def load_keys(signers, allowed_signers):
    """member -> its keys, oldest first, each {blob, raw, until (the event that retired it),
    after, before (UTC times YYYYMMDDHHMMSS)}: from the export, or from your own
    allowed_signers file (a replaced key has a line per key, with valid-after/valid-before)."""
    keys = {}
    if not allowed_signers:
        for member, s in signers.items():
            held = [(k["public_key"], k["until_seq"]) for k in s.get("retired_keys", [])]
            keys[member] = [
                key_entry(text, until=until) for text, until in held + [(s["public_key"], None)]
            ]
        return keys
    with open(allowed_signers) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and not parts[0].startswith("#") and parts[-2] == "ssh-ed25519":
                key = key_entry(" ".join(parts[-2:]))
                for option in " ".join(parts[1:-2]).split(","):
                    name, _, value = option.partition("=")
                    if name in ("valid-after", "valid-before"):
                        key[name[6:]] = value.strip('"').rstrip("Z").ljust(14, "0")
                keys.setdefault(parts[0], []).append(key)
    return keys


def key_entry(text, **more):
    blob, raw = parse_openssh_key(text)
    return dict(blob=blob, raw=raw, **more)


def retirements(events):
    """member -> {key blob: the seq of the keys.rotate event that retired it}, as the log says."""
    held, retired = {}, {}
    for e in events:
        if e["action"] in ("workspace.init", "member.add"):
            member = e["payload"]["admin"] if e["action"] == "workspace.init" else e["payload"]
            held[member["member"]] = parse_openssh_key(member["public_key"])[0]
        elif e["action"] == "keys.rotate" and e["payload"]["member"] in held:
            member = e["payload"]["member"]
            retired.setdefault(member, {})[held[member]] = e["seq"]
            held[member] = parse_openssh_key(e["payload"]["public_key"])[0]
    return retired


def utc(time):
    return datetime.datetime.strptime(time, "%Y-%m-%dT%H:%M:%S.%fZ")


def keys_of(keys, member, seq, time):
    """The member's keys that may have signed its event ``seq`` at ``time``: the one it held
    then (an allowed_signers file, by time alone, may give two within a second)."""
    moment = time.replace("-", "").replace(":", "").replace("T", "")[:14]
    return [
        key
        for key in keys.get(member, [])
        if (key.get("until") is None or seq <= key["until"])
        and key.get("after", "") <= moment <= key.get("before", "99999999999999")
    ]


def verify(path, allowed_signers=None):
    """A list of (where it shows, message) failures, and a summary."""
    failures = []

    def fail(at, message, first=None):
        # an event range is reported where it is detected (its end), after any exact failure
        where = f"event #{at}" if first in (None, at) else f"events #{first}–#{at}"
        failures.append((at if at is not None else float("inf"), f"{where}: {message}"))

    with open(path, encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    if lines[0].get("format") != FORMAT:
        return [f"the export: not {FORMAT}"], None
    log, complete = lines[0]["log"], lines[0]["selection"] is None
    signers = {s["member"]: s for s in lines if s["type"] == "signer"}
    events = [e for e in lines if e["type"] == "event"]
    keys = load_keys(signers, allowed_signers)
    if complete and allowed_signers:
        # your file dates a replaced key by time alone (checkpoints carry none): a complete
        # export's own rotations say at which event each key was retired
        for member, held in retirements(events).items():
            for key in keys.get(member, []):
                key.setdefault("until", held.get(key["blob"]))
    checkpoints = [parse_checkpoint(c["note"]) for c in lines if c["type"] == "checkpoint"]

    good = []  # (size, root, signers) of checkpoints whose signatures verify

    def key_id_of(name, key):
        return hashlib.sha256(name.encode() + b"\n" + KEY_ID_TYPE + key["blob"]).digest()[:4]

    for text, origin, size, root, signatures in checkpoints:
        known = [(n, kid, blob) for n, kid, blob in signatures if n in keys]
        verified = [
            name
            for name, kid, blob in known
            for key in keys[name]
            if key_id_of(name, key) == kid
            and (key.get("until") is None or size <= key["until"])
            and (key.get("until") is not None or "before" not in key)
            and sshsig_check(key["blob"], key["raw"], NS_CHECKPOINT, text.encode(), blob)
        ]
        if origin != "ctg-exchange/" + log or not verified or len(verified) != len(known):
            failures.append((float("inf"), f"checkpoint of {size} events: not signed for this log"))
        else:
            good.append((size, root, verified))
    target = max(good, key=lambda c: c[0]) if good else None
    if not complete and target is None:
        failures.append((float("inf"), "the export: no signed checkpoint for its proofs"))

    tree, roots, previous, declared, retired = Tree(), {}, None, {}, {}
    for e in events:
        seq = e["seq"]
        body = {k: e[k] for k in BODY_KEYS}
        signed = EVENT_PREFIX + canonical(body)
        signer = signers.get(e["actor"])
        expected = previous["seq"] + 1 if previous else 1
        if complete and seq > expected:
            fail(seq - 1, "missing", first=expected)
        problem = None
        if previous is not None and seq <= previous["seq"]:
            problem = "out of order"
        elif e["log"] != log:
            problem = "of another log"
        elif (
            previous
            and previous["seq"] == seq - 1
            and utc(e["time"]) < utc(previous["time"]) - CLOCK_SKEW
        ):
            problem = "dated more than five minutes before the event it follows"
        elif hashlib.sha256(signed).hexdigest() != e["hash"]:
            problem = "its hash does not match its content"
        elif previous is not None and previous["seq"] == seq - 1 and e["prev"] != previous["hash"]:
            problem = "its link to the previous event is broken"
        elif complete and seq == 1 and e["prev"] != "0" * 64:
            problem = "the first event links to something"
        elif signer is None or not keys_of(keys, e["actor"], seq, e["time"]):
            problem = f"{e['actor']} is not a known signer"
        elif signer["added_seq"] > seq or (signer["revoked_seq"] or seq) < seq:
            problem = f"{e['actor']} was not a member at this point"
        elif e["party"] != signer["party"] or e["role"] not in signer["roles"]:
            problem = f"{e['actor']} does not hold {e['role']} for {e['party']}"
        elif e["role"] not in ROLE_OF.get(e["action"], ()):
            problem = f"{e['action']} is not taken as {e['role']}"
        else:
            armored = e["signature"].strip().split("\n")
            blob = base64.b64decode("".join(armored[1:-1]))
            held = keys_of(keys, e["actor"], seq, e["time"])
            if not any(sshsig_check(k["blob"], k["raw"], NS_EVENT, signed, blob) for k in held):
                problem = "bad signature"
        if complete and e["action"] in ("workspace.init", "member.add"):
            member = e["payload"]["admin"] if e["action"] == "workspace.init" else e["payload"]
            declared[member["member"]] = member["public_key"].split()[:2]
        if complete and e["action"] == "keys.rotate" and problem is None:
            # the member itself, or for a lost key an admin of its party, replaces its key
            member = e["payload"]["member"]
            target = signers.get(member) or {}
            lost = e["payload"]["lost"]
            if e["actor"] != member and not (
                lost and e["role"] == "admin" and e["party"] == target.get("party")
            ):
                problem = f"{e['actor']} may not replace {member}'s key"
            elif member in declared:
                retired.setdefault(member, []).append((declared[member], seq))
                declared[member] = e["payload"]["public_key"].split()[:2]
        leaf = leaf_hash(signed)
        if complete and tree.size == seq - 1:
            tree.append(leaf)
            if any(c[2] == tree.size for c in checkpoints):
                roots[tree.size] = tree.root()
        if not complete and problem is None and target is not None:
            proof = [bytes.fromhex(p) for p in e.get("proof", [])]
            if seq > target[0]:
                problem = "not covered by the export's checkpoint"
            elif root_from_proof(seq - 1, target[0], leaf, proof) != target[1]:
                problem = "its inclusion proof does not lead to the checkpoint's root"
        if problem:
            fail(seq, problem)
        previous = e

    if complete:
        last_good = 0
        for size, root, verified in sorted(good):
            signed_by = f"the checkpoint of {size} events signed by {', '.join(verified)}"
            if size > tree.size:
                fail(size, f"removed, though {signed_by} covers them", first=tree.size + 1)
            elif roots.get(size) != root:
                fail(size, f"changed since {signed_by}", first=last_good + 1)
                break
            else:
                last_good = size
        for member, s in signers.items():
            held = [
                (k["public_key"].split()[:2], k["until_seq"]) for k in s.get("retired_keys", [])
            ]
            if declared.get(member) != s["public_key"].split()[:2] or held != retired.get(
                member, []
            ):
                failures.append((float("inf"), f"signer {member}: not the key the log declares"))
    parties = sorted({signers[n]["party"] for c in good for n in c[2] if n in signers})
    return [text for _, text in sorted(failures, key=lambda f: f[0])], (
        len(events),
        len(good),
        parties,
    )


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--allowed-signers"):
        sys.exit(__doc__.split("\n\n")[2])
    try:
        failures, summary = verify(argv[1], argv[3] if len(argv) == 4 else None)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(f"FAILED: not a readable audit export ({type(exc).__name__}: {exc})")
        return 1
    for failure in failures:
        print(f"FAILED: {failure}")
    if failures:
        return 1
    events, checkpoints, parties = summary
    print(
        f"OK: {events} events and {checkpoints} checkpoints verified "
        f"(checkpoints signed for {', '.join(parties) or 'nobody'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
