"""The browser's envelope (pwa/js/envelope.js, hpke.js) held to the committed vectors and to
Python: Chromium opens or refuses every envelope of tests/vectors/envelopes.json exactly as
sync/envelope.py does, reproduces the deterministic HPKE values of tests/vectors/hpke.json,
and each side opens what the other sealed.

The modules load from the real server under /static (their production URLs) into the plain
offline page; nothing here is served only for tests.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Page

from server.templating import static_url
from sync.envelope import EnvelopeRefused, directory_lookup, open_envelope, seal
from sync.keys import NodeKeys, PublicKeys

from .conftest import TownshipServer

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ENVELOPES: dict[str, Any] = json.loads((VECTORS / "envelopes.json").read_text("utf-8"))
HPKE: dict[str, Any] = json.loads((VECTORS / "hpke.json").read_text("utf-8"))
PAYLOAD = json.dumps(
    [
        {"case": f"C2026-{n:06d}", "kind": "accept", "note": "受理：材料齐全，村代办员代办"}
        for n in range(60)
    ],
    ensure_ascii=False,
).encode()

# Shared by the scripts below: the modules by their versioned URLs and a key importer.
PRELUDE = """
const b = await import(urls.bytes);
const env = await import(urls.envelope);
const keys = await import(urls.keys);
const subtle = crypto.subtle;
async function importNode(k) {
  const p = (name) => b.fromHex(k[name]);
  return {
    keyId: p("key_id_hex"),
    signing: await subtle.importKey(
      "pkcs8", p("signing_der"), {name: "ECDSA", namedCurve: "P-256"}, false, ["sign"]),
    receiving: await subtle.importKey(
      "pkcs8", p("receiving_der"), {name: "ECDH", namedCurve: "P-256"}, false, ["deriveBits"]),
    signingPoint: b.fromB64url(k.public.signing),
    receivingPoint: b.fromB64url(k.public.receiving),
  };
}
"""


def run(page: Page, body: str, **args: object) -> Any:
    urls = {name: static_url(f"js/{name}.js") for name in ("bytes", "envelope", "keys", "hpke")}
    script = f"async ({{urls, args}}) => {{ {PRELUDE}\n{body} }}"
    return page.evaluate(script, {"urls": urls, "args": args})


def vector_key_json(name: str) -> dict[str, Any]:
    entry = dict(ENVELOPES["keys"][name])
    for part in ("signing", "receiving"):
        entry[f"{part}_der"] = base64.b64decode(entry[f"{part}_pkcs8"]).hex()
    return entry


def vector_keys(name: str) -> NodeKeys:
    entry = ENVELOPES["keys"][name]
    loaded = [
        serialization.load_der_private_key(base64.b64decode(entry[f"{part}_pkcs8"]), None)
        for part in ("signing", "receiving")
    ]
    assert all(isinstance(key, ec.EllipticCurvePrivateKey) for key in loaded)
    return NodeKeys(loaded[0], loaded[1])  # type: ignore[arg-type]


@pytest.fixture
def blank(page: Page, township_server: TownshipServer) -> Page:
    page.goto(township_server.url("/offline"))
    return page


def test_chromium_opens_and_refuses_every_vector_like_python(blank: Page) -> None:
    keys = {name: vector_key_json(name) for name in ENVELOPES["keys"]}
    results = run(
        blank,
        """
        const dir = {};
        for (const name of args.directory) {
          const k = args.keys[name];
          dir[k.key_id_hex] = {
            keyId: b.fromHex(k.key_id_hex), signing: b.fromB64url(k.public.signing)};
        }
        const lookup = (id) => dir[b.toHex(id)] || null;
        const out = {};
        for (const c of args.cases) {
          const me = [];
          for (const name of c.open_as) me.push(await importNode(args.keys[name]));
          const limits = {};
          if (c.max_size) limits.maxSize = c.max_size;
          if (c.max_payload) limits.maxPayload = c.max_payload;
          try {
            const o = await env.openEnvelope(
              b.fromHex(c.envelope), {me, senderLookup: lookup, ...limits});
            out[c.name] = {payload_hex: b.toHex(o.payload), kind: o.kind, created_ms: o.created,
              sender: b.toHex(o.sender), recipients: o.recipients.map(b.toHex),
              envelope_id: o.envelopeId};
          } catch (e) {
            out[c.name] = {reason: e.reason || `not a refusal: ${e}`, message: e.message};
          }
        }
        return out;
        """,
        keys=keys,
        directory=ENVELOPES["directory"],
        cases=ENVELOPES["cases"],
    )
    assert len(results) == len(ENVELOPES["cases"]) >= 30
    for case in ENVELOPES["cases"]:
        got, expect = results[case["name"]], case["expect"]
        if "reason" in expect:
            assert got.get("reason") == expect["reason"], case["name"]
            assert got["message"] == EnvelopeRefused(expect["reason"]).message
            continue
        assert got == {
            "payload_hex": expect["payload_hex"],
            "kind": expect["kind"],
            "created_ms": expect["created_ms"],
            "sender": keys[expect["sender"]]["key_id_hex"],
            "recipients": [keys[name]["key_id_hex"] for name in expect["recipients"]],
            "envelope_id": expect["envelope_id"],
        }, case["name"]


def test_chromium_reproduces_the_deterministic_hpke_vectors(blank: Page) -> None:
    results = run(
        blank,
        """
        const hpke = await import(urls.hpke);
        const jwk = (d, point) => ({kty: "EC", crv: "P-256", d: b.toB64url(b.fromHex(d)),
          x: b.toB64url(point.slice(1, 33)), y: b.toB64url(point.slice(33))});
        const ECDH = {name: "ECDH", namedCurve: "P-256"};
        const out = [];
        for (const c of args.cases) {
          const [pkEm, pkRm] = [b.fromHex(c.pkEm), b.fromHex(c.pkRm)];
          const ephemeral = {
            privateKey: await subtle.importKey(
              "jwk", jwk(c.skEm, pkEm), ECDH, false, ["deriveBits"]),
            publicKey: await subtle.importKey("raw", pkEm, ECDH, true, []),
          };
          const [info, aad, pt] = [b.fromHex(c.info), b.fromHex(c.aad), b.fromHex(c.pt)];
          const s = await hpke.testing.sealWithEphemeral(c.aead_id, pkRm, info, aad, pt, ephemeral);
          const skR = await subtle.importKey("jwk", jwk(c.skRm, pkRm), ECDH, false, ["deriveBits"]);
          const opened = await hpke.open(skR, pkRm, info, s.enc, s.ct, c.aead_id, aad);
          out.push({name: c.name, enc: b.toHex(s.enc), ct: b.toHex(s.ct),
            shared_secret: b.toHex(s.sharedSecret), key_schedule_context: b.toHex(s.context),
            secret: b.toHex(s.secret), key: b.toHex(s.key), base_nonce: b.toHex(s.baseNonce),
            pt: b.toHex(opened)});
        }
        return out;
        """,
        cases=HPKE["cases"],
    )
    assert [r["name"] for r in results] == [c["name"] for c in HPKE["cases"]]
    fields = ("enc", "ct", "shared_secret", "key_schedule_context", "secret", "key", "base_nonce")
    for got, case in zip(results, HPKE["cases"], strict=True):
        assert {f: got[f] for f in fields} == {f: case[f] for f in fields}, case["name"]
        assert got["pt"] == case["pt"]


@pytest.mark.parametrize("payload", [PAYLOAD, os.urandom(3000)], ids=["json", "random"])
def test_python_opens_what_chromium_sealed(blank: Page, payload: bytes) -> None:
    recipient = vector_keys("recipient_a")
    sealed = run(
        blank,
        """
        const me = await keys.generateKeys();
        const to = await keys.publicFromJson(args.recipient);
        const data = await env.seal(
          b.fromHex(args.payload), {sender: me, recipients: [to], kind: 7});
        return {envelope: b.toHex(data), sender: keys.publicJson(me)};
        """,
        recipient=recipient.public().to_json(),
        payload=payload.hex(),
    )
    data = bytes.fromhex(sealed["envelope"])
    browser = PublicKeys.from_json(sealed["sender"])
    opened = open_envelope(data, me=recipient, sender_lookup=directory_lookup([browser]))
    assert opened.payload == payload
    assert opened.kind == 7
    assert opened.sender == browser.key_id
    assert data[7] == (1 if payload is PAYLOAD else 0)  # compressed only when it helps
    s = int.from_bytes(data[-32:], "big")
    assert s <= 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551 // 2  # low S


def test_chromium_opens_what_python_sealed_to_its_keys(blank: Page) -> None:
    public = run(
        blank,
        """
        window.deviceKeys = await keys.generateKeys();
        return keys.publicJson(window.deviceKeys);
        """,
    )
    device = PublicKeys.from_json(public)
    sender = vector_keys("sender")
    data = seal(PAYLOAD, sender=sender, recipients=[vector_keys("recipient_b").public(), device])
    opened = run(
        blank,
        """
        const from = await keys.publicFromJson(args.sender);
        const lookup = (id) => (b.equal(id, from.keyId) ? from : null);
        const o = await env.openEnvelope(
          b.fromHex(args.envelope), {me: [window.deviceKeys], senderLookup: lookup});
        return {
          payload: b.toHex(o.payload), id: o.envelopeId, recipients: o.recipients.map(b.toHex)};
        """,
        sender=sender.public().to_json(),
        envelope=data.hex(),
    )
    assert bytes.fromhex(opened["payload"]) == PAYLOAD
    assert opened["recipients"] == [vector_keys("recipient_b").key_id.hex(), device.key_id.hex()]
    assert (
        opened["id"]
        == open_envelope(
            data, me=vector_keys("recipient_b"), sender_lookup=directory_lookup([sender.public()])
        ).envelope_id
    )
