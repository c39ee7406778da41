"""Helpers for test_intake.sh (run with /usr/bin/python3).
  sign-hmac KEY FILE                 base64 HMAC-SHA256 of the file's bytes
  sign-stripe SECRET FILE [T]        a Stripe-Signature header value (T: now)
  wc-with-skus IN OUT                the WooCommerce order with a SKU on every line
  stripe-pi IN OUT ORDER_REF EVT     the payment_intent event naming our order
  openapi FILE                       "METHOD PATH" of every operation, sorted
  burst URL TOKEN PREFIX OUT          40 orders at once, several kinds (see burst())
  post-until-stored URL TOKEN N PREFIX OUT
        post N orders, each retried on 503 or a refused connection until a
        2xx; writes the acknowledged references to OUT, one a line.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request


def sign_hmac(key, path):
    body = open(path, "rb").read()
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def sign_stripe(secret, path, t=None):
    body = open(path, "rb").read()
    t = int(t) if t else int(time.time())
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def wc_with_skus(src, dst):
    doc = json.load(open(src))
    for i, line in enumerate(doc["line_items"]):
        if not line.get("sku"):
            line["sku"] = "WC-SKU-%d" % i
    doc["date_modified_gmt"] = "2017-03-22T19:40:00"  # a later modification
    open(dst, "w").write(json.dumps(doc, separators=(",", ":")))


def stripe_pi(src, dst, order_ref, evt):
    doc = json.load(open(src))
    doc["id"] = evt
    doc["data"]["object"]["metadata"] = {"order_ref": order_ref}
    doc["data"]["object"]["currency"] = "eur"
    open(dst, "w").write(json.dumps(doc, separators=(",", ":")))


def openapi(path):
    import yaml
    doc = yaml.safe_load(open(path))
    ops = []
    for p, item in doc.get("paths", {}).items():
        for m in item:
            if m.lower() in ("get", "put", "post", "delete", "patch"):
                ops.append("%s %s" % (m.upper(), p))
    print("\n".join(sorted(ops)))


def post_until_stored(url, token, n, prefix, out):
    acked = []
    deadline = time.time() + 90
    for i in range(int(n)):
        ref = "%s-%d" % (prefix, i)
        body = json.dumps({
            "external_ref": ref, "currency": "EUR", "placed_at": "2025-02-01T10:00:00Z",
            "buyer": {"external_ref": "buyer-1"},
            "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "10.00"}]}).encode()
        while time.time() < deadline:
            req = urllib.request.Request(url + "/v1/orders", data=body, method="POST", headers={
                "Content-Type": "application/json", "Authorization": "Bearer " + token})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if 200 <= r.status < 300:
                        acked.append(ref)
                        break
            except urllib.error.HTTPError as e:
                if e.code != 503:
                    raise SystemExit("order %s: HTTP %d %s" % (ref, e.code, e.read()[:200]))
                if not e.headers.get("Retry-After"):
                    raise SystemExit("order %s: 503 without Retry-After" % ref)
                open(out + ".503", "a").write(ref + "\n")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        time.sleep(0.05)
    open(out, "w").write("".join(r + "\n" for r in acked))


def burst(url, token, prefix, out):
    """40 orders at once (so that they meet in group commits): every 5th a
    repeat of one reference, others with an unknown SKU, an unknown buyer,
    an unknown depot, a new buyer with a delivery. Writes "i kind status
    body" lines."""
    import threading
    barrier = threading.Barrier(40)
    results = [None] * 40

    def order(i):
        kind = i % 5
        o = {"external_ref": "%s-%d" % (prefix, i), "currency": "EUR",
             "placed_at": "2025-03-01T10:00:00Z", "buyer": {"external_ref": "buyer-1"},
             "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "10.00"},
                       {"sku": "SKU-2", "quantity": 1, "unit_price": "4.99"}]}
        if kind == 0:
            o["external_ref"] = prefix + "-dup"
        elif kind == 1:
            o["items"][1]["sku"] = "NOPE"
        elif kind == 2:
            o["buyer"] = {"external_ref": "%s-buyer" % prefix, "email": "n@example.com",
                          "name": "N", "country": "DE"}
            o["delivery"] = {"depot": "BER-01", "address": "a", "latitude": 52.5,
                             "longitude": 13.4, "window_start": "2025-03-02T08:00:00Z",
                             "window_end": "2025-03-02T10:00:00Z"}
        elif kind == 3:
            o["buyer"] = {"external_ref": "nobody"}
        return kind, json.dumps(o).encode()

    def run(i):
        kind, body = order(i)
        req = urllib.request.Request(url + "/v1/orders", data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": "Bearer " + token})
        barrier.wait()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                results[i] = (kind, r.status, r.read().decode())
        except urllib.error.HTTPError as e:
            results[i] = (kind, e.code, e.read().decode())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        for i, (kind, status, body) in enumerate(results):
            f.write("%d %d %d %s\n" % (i, kind, status, body.replace("\n", " ")))


cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "sign-hmac":
    print(sign_hmac(*args))
elif cmd == "sign-stripe":
    print(sign_stripe(*args))
elif cmd == "wc-with-skus":
    wc_with_skus(*args)
elif cmd == "stripe-pi":
    stripe_pi(*args)
elif cmd == "openapi":
    openapi(*args)
elif cmd == "burst":
    burst(*args)
elif cmd == "post-until-stored":
    post_until_stored(*args)
else:
    raise SystemExit("unknown command " + cmd)
