#!/usr/bin/python3
"""A fake registry on 127.0.0.1 that gives answers no real registry gives.

Test-only; started by RegistryTest->start_hostile.  The repository name picks
the scenario: its first path component that names one (so "ok" and
"library/ok" and "ok/app" all select "ok"):

  ok               a well-formed Docker schema 2 manifest (tags "latest",
                   "1.0"; "index" is a manifest list of it), its config and
                   layer blobs; every digest is right
  wrongdigest      the ok manifest with a Docker-Content-Digest that is not
                   the body's
  bodymismatch     by tag: the ok manifest; by digest: a different body (and
                   blobs whose bytes do not match their digest), with the
                   requested digest echoed in Docker-Content-Digest
  huge             a --huge-size (10 MiB) OCI manifest, digest right
  slow             headers, then 1 byte every --slow-interval s, for at most
                   --slow-seconds (120), then close
  endless          no Content-Length, streams --endless-chunk (16 KiB) chunks
                   every --endless-delay (1 ms) until the client goes away
                   (at most --endless-seconds, 120, or --endless-max-bytes)
  truncated        Content-Length larger than the body, half the body, close
  brokenjson       a manifest body that is not valid JSON
  schema1          a signed schema 1 manifest (v1+prettyjws, ES256 JWS)
  unknowntype      the ok manifest as Content-Type application/x-unknown
  auth401loop      401 with a Bearer challenge to our /token, which hands out
                   a token that is refused again
  tokenfail        401 with a Bearer challenge to /token-fail, which says 500
  ratelimit        429 with Retry-After: 7; when the next path component is
                   one of these, instead (N seconds; a date is the first whole
                   second at least N s after the request, logged as hold_until):
                   "seconds-N" N, "date-N" an IMF-fixdate ("Wed, 21 Oct 2015
                   07:28:00 GMT"), "rfc850-N" the obsolete RFC 850 form
                   ("Wednesday, 21-Oct-15 07:28:00 GMT"), "asctime-N" the
                   obsolete asctime form ("Wed Oct 21 07:28:00 2015"), "past"
                   an IMF-fixdate of 2015, or a key of RETRY_AFTER_GARBAGE
  servererror      500
  redirectloop     302 to itself
  redirectblocked  302 to http://169.254.169.254/latest/meta-data/...
  redirectok       307 to the same path under "ok"
  redirectto       302 to the same path under "ok" at --redirect-target (a
                   base URL such as http://127.0.0.1:5000); when the next path
                   component is a key of REDIRECT_HOSTS ("redirectto/decimal/app"),
                   to that spelling of the host, on the target's port
  redirectscheme   302 to a URL of the scheme named by the next path component
                   ("redirectscheme/file/app": file:///etc/passwd; others:
                   SCHEME://127.0.0.1:PORT/x)
  basicauth        401 with a Basic challenge unless the request carries
                   --basic-credentials (user:password); then as "ok", or as
                   "redirectto" when a later path component is "redirectto"
                   (tag lists as "paged" or "linkaway" when one is named)
  bearerauth       401 with a Bearer challenge to our /token (which needs
                   --basic-credentials when they are set) unless the request
                   carries a token /token issued; then as "basicauth" does
  delayed          like ok, each answer half a second late (to see
                   concurrent requests)
  flaky            500 while GET /_flaky?fail=1 is in force (until
                   /_flaky?fail=0), else as ok
  paged            manifests like ok; tags/list paginated (n default 2) over
                   --paged-tags (5) tags with Link: <...>; rel="next"; a
                   page holds at most --page-cap tags (0: no cap but 1000)
                   whatever n asks, and its Link repeats the n asked
  deepnest         the ok manifest with one more field nested --deep-levels
                   (200000) arrays deep, digest right; its tags/list page
                   nests as deep
  deeptoken        401 with a Bearer challenge to /token-deep, which answers a
                   token in JSON nested as deep as deepnest
  bigtoken         as bearerauth, but its challenge names /token-big, whose
                   tokens are --big-token-size bytes long (20 kB) and claim
                   to live 2,000,000,000 s
  badlayer         the ok manifest with a layer digest that is no digest
                   (a reader of the config alone accepts it), digest right
  linkaway         as paged, but each Link is absolute, at --redirect-target
  redirectchallenge  302 to the same path at --redirect-target, under
                   "bearerauth/" (or "basicauth/" when the next path component
                   is "basic"), where that server challenges for itself
  foreignchild     "foreignchild/HEX/app": by tag, a manifest list of the ok
                   manifest (linux/amd64) and of sha256:HEX (linux/s390x), a
                   digest this registry does not have; by that digest, the ok
                   manifest (so the body does not hash to it); else as "ok"
  bigconfigs       --big-count (8) images "c0", "c1", ... each with a config
                   of its own of --big-config-size (8 MiB); "latest" is a
                   manifest list of them all, "repeat" one that lists c0
                   --repeat-count (20) times; its tag list lists them
  manychildren     "many" is a manifest list of --many-children (100)
                   distinct images (the ok image, each with an annotation);
                   "tiny" one of --tiny-count (8) images of about --tiny-size
                   (3.5 MiB) bytes, each padded with an array of 1s
                   ("1,1,1,..."), and last a child that is missing (404)
  badtagnames      manifests like ok; tags/list lists "1.0" and "latest"
                   among names that are no tags ("../../etc", "-dash", ...)
  manypages        manifests like ok; tags/list in --page-count (50) pages of
                   about --page-size (3.5 MiB) bytes, each filled with tag
                   names, or, with a path component "padded", with two tags
                   and a padding field
  hugelist         manifests like ok; tags/list is one page of
                   --huge-list-tags (350,000) names (3.9 MB, within the default
                   max_manifest_size), whatever n asks, with
                   "2.0", "2.1", "v-a" and "v-b" among "w000000"...
  signed           the ok image ("index": its manifest list) with cosign
                   signatures behind the OCI 1.1 referrers API
                   (GET .../referrers/DIGEST, for any digest asked): one
                   signature manifest (artifactType
                   application/vnd.dev.cosign.artifact.sig.v1+json) of two
                   simple signing payloads for DIGEST, and an SPDX referrer
                   besides.  Signatures are made with --cosign-key (an EC P-256
                   or Ed25519 private key in PEM), else are base64 that signs
                   nothing.  The next path component picks a variant:
                     nosigs          the SPDX referrer only
                     tagfallback     referrers 404; the manifest is the tag
                                     sha256-HEX.sig instead
                     hugemanifest    the signature manifest is 300 kB
                     hugeindex       the referrers index is 300 kB
                     badpayload      a payload's bytes do not hash to its digest
                     manylayers      17 layers
                     manymanifests   17 signature manifests of one layer each
                     mixed           a good signature manifest of one layer, and
                                     one whose payload is as in badpayload
                     notjson         the signature manifest is not JSON
                     referrers500    referrers answers 500
                     longsig         a signature annotation of 9000 bytes
                     notbase64       a signature annotation that is not base64
                     bigpayload      a layer that declares 70,000 bytes
                     bigblob         a payload blob of 70,000 bytes, declared small

Every scenario applies to manifests, blobs and tags/list alike where that
makes sense (content scenarios serve the ok blobs).  GET /v2/ answers 200.
HEAD is GET without body.  GET /_log gives the request log as JSON
[{"method","path","authorization","host","user_agent","time"}] (host and
user_agent: the Host and User-Agent headers;
time: seconds since the epoch when the request was read; a 429 adds
"retry_after", the header sent, and "hold_until", the time a date in it
names); GET /_reset clears it; GET /_concurrency gives {"max": n,
"by_host": {host: n}}, the most requests served at once since, in all and
by Host header.

With --tls-cert and --tls-key it speaks HTTPS (the handshake in each
request's thread), and its token realms are https URLs.

When ready it prints "PORT n" on stdout (and writes n to --port-file).  It
exits by itself after --max-lifetime seconds, when --parent-pid is gone, or on
SIGTERM/SIGINT.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import io
import json
import math
import re
import socket
import ssl
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from server_lifetime import announce_and_serve, start_lifetime

MT_DOCKER = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_OCI = "application/vnd.oci.image.manifest.v1+json"
MT_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"

SCENARIOS = [
    "ok", "wrongdigest", "bodymismatch", "huge", "slow", "endless", "truncated",
    "brokenjson", "schema1", "unknowntype", "auth401loop", "tokenfail",
    "ratelimit", "servererror", "redirectloop", "redirectblocked", "redirectok",
    "paged", "delayed", "flaky", "redirectto", "redirectscheme", "basicauth", "bearerauth",
    "deepnest", "deeptoken", "bigtoken", "badlayer",
    "linkaway", "redirectchallenge",
    "foreignchild",
    "bigconfigs", "manychildren", "manypages", "badtagnames", "hugelist",
    "signed",
]

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_PAYLOAD = "application/vnd.dev.cosign.simplesigning.v1+json"
COSIGN_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNED_VARIANTS = ["nosigs", "tagfallback", "hugemanifest", "hugeindex", "badpayload",
                   "manylayers", "manymanifests", "mixed", "notjson", "referrers500",
                   "longsig", "notbase64", "bigpayload", "bigblob"]

# Spellings of the loopback (and other inward) addresses a redirect may use.
REDIRECT_HOSTS = {
    "loopback": "127.0.0.1", "localhost": "localhost", "short": "127.1",
    "decimal": "2130706433", "octal": "0177.0.0.1", "hex": "0x7f000001",
    "any": "0.0.0.0", "v6loopback": "[::1]", "v6mapped": "[::ffff:127.0.0.1]",
    "v6any": "[::]", "metadata": "169.254.169.254",
}


# Retry-After values of neither form (RFC 9110 section 10.2.3) that a lax
# reader would take for a long wait.
RETRY_AFTER_GARBAGE = {
    "words": "3600 seconds",
    "feb31": "Sun, 31 Feb 2099 07:28:00 GMT",
    "utc": "Wed, 21 Oct 2099 07:28:00 UTC",
}


def http_date(t, form):
    """t (seconds since the epoch) as an HTTP-date of the form named."""
    g = time.gmtime(t)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", g)
    if form == "asctime":
        return time.strftime("%a %b ", g) + ("%2d" % g.tm_mday) + time.strftime(" %H:%M:%S %Y", g)
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", g)


def sha256(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jdump(obj, indent=3):
    return json.dumps(obj, indent=indent, sort_keys=True).encode()


class Content:
    """The fixed image served by "ok" and friends."""

    def __init__(self, huge_size, deep_levels):
        data = b"imagestream hostile registry: ok layer\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            ti = tarfile.TarInfo("hello.txt")
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            tar.addfile(ti, io.BytesIO(data))
        tarbytes = buf.getvalue()
        self.layer = gzip.compress(tarbytes, mtime=0)
        self.config = jdump({
            "architecture": "amd64", "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"],
                       "Labels": {"scenario": "ok"}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(tarbytes)]},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "hostile"}],
        }, None)
        self.blobs = {sha256(self.layer): self.layer, sha256(self.config): self.config}
        self.layer_digest = sha256(self.layer)
        self.config_digest = sha256(self.config)
        self.manifest = jdump(self.image_manifest(MT_DOCKER))
        self.digest = sha256(self.manifest)
        self.index = jdump({
            "schemaVersion": 2, "mediaType": MT_DOCKER_LIST,
            "manifests": [{"mediaType": MT_DOCKER, "size": len(self.manifest),
                           "digest": self.digest,
                           "platform": {"architecture": "amd64", "os": "linux"}}],
        })
        self.index_digest = sha256(self.index)
        # the "other" body bodymismatch serves for a digest
        other = self.image_manifest(MT_DOCKER)
        other["layers"][0]["size"] += 1
        self.other_manifest = jdump(other)
        # a huge but valid OCI manifest
        m = self.image_manifest(MT_OCI)
        m["annotations"] = {"padding": ""}
        pad = max(0, huge_size - len(jdump(m)))
        m["annotations"]["padding"] = "x" * pad
        self.huge = jdump(m)
        self.huge_digest = sha256(self.huge)
        # nested deeper than any JSON parser that recurses per level can go
        nest = b"[" * deep_levels + b"]" * deep_levels
        self.deep = self.manifest[:-1].rstrip() + b', "nest": ' + nest + b"}"
        self.deep_digest = sha256(self.deep)
        self.deep_tags = b'{"name": "deepnest", "tags": ["latest"], "nest": ' + nest + b"}"
        self.deep_token = b'{"token": "deep", "nest": ' + nest + b"}"
        bad = self.image_manifest(MT_DOCKER)
        bad["layers"][0]["digest"] = "sha256:nothex"
        self.badlayer = jdump(bad)
        self.badlayer_digest = sha256(self.badlayer)
        self.broken = self.manifest[: len(self.manifest) * 6 // 10] + b'"\x00,,}'
        self.schema1_cache = {}
        self.lock = threading.Lock()

    def big(self, args):
        """The bigconfigs and manychildren content, made on first use:
        {"blobs", "manifests" (digest -> body), "tags" (tag -> digest)}."""
        with self.lock:
            if getattr(self, "big_cache", None) is None:
                blobs, manifests, tags = {}, {}, {}
                children = []
                for i in range(args.big_count):
                    cfg = json.loads(self.config)
                    cfg["config"]["Labels"] = {"child": str(i)}
                    cfg["padding"] = ""
                    cfg["padding"] = "x" * max(0, args.big_config_size - len(jdump(cfg, None)))
                    body = jdump(cfg, None)
                    blobs[sha256(body)] = body
                    m = self.image_manifest(MT_DOCKER)
                    m["config"]["size"] = len(body)
                    m["config"]["digest"] = sha256(body)
                    mb = jdump(m)
                    tags["c%d" % i] = sha256(mb)
                    children.append(mb)
                tags["latest"] = self.add_list(manifests, children)
                tags["repeat"] = self.add_list(manifests, children[:1] * args.repeat_count)
                small = []
                for i in range(args.many_children):
                    m = self.image_manifest(MT_OCI)
                    m["annotations"] = {"child": str(i)}
                    small.append(jdump(m))
                tags["many"] = self.add_list(manifests, small)
                tiny = []
                for i in range(args.tiny_count):
                    m = self.image_manifest(MT_OCI)
                    m["annotations"] = {"child": str(i)}
                    m["padding"] = [1] * (args.tiny_size // 2)
                    tiny.append(json.dumps(m, separators=(",", ":")).encode())
                missing = jdump(self.image_manifest(MT_OCI) | {"annotations": {"missing": "yes"}})
                tags["tiny"] = self.add_list(manifests, tiny + [missing])
                del manifests[sha256(missing)]  # listed, not served
                self.big_cache = {"blobs": blobs, "manifests": manifests, "tags": tags}
            return self.big_cache

    def signed(self, args, variant, host, name, subject):
        """The cosign material of subject in the "signed" scenario's variant,
        made on first use (digests stay the same): {"index": the referrers
        index body, "tag": the signature manifest's digest for the .sig tag}.
        Its manifests and blobs go into sig_manifests (digest -> (body,
        media type)) and sig_blobs (digest -> body as served)."""
        key = (variant, host, name, subject)
        with self.lock:
            if not hasattr(self, "sig_cache"):
                self.sig_cache, self.sig_manifests, self.sig_blobs = {}, {}, {}
            if key in self.sig_cache:
                return self.sig_cache[key]

        def payload(n):
            optional = None if n == 0 else {"n": str(n)}
            body = json.dumps({"critical": {"identity": {"docker-reference": "%s/%s" % (host, name)},
                                            "image": {"docker-manifest-digest": subject},
                                            "type": "cosign container image signature"},
                               "optional": optional}, separators=(",", ":")).encode()
            if variant == "bigblob":
                body = body + b" " * (70000 - len(body))
            return body

        def layer(n, bad=False):
            body = payload(n)
            d = sha256(body)
            self.sig_blobs[d] = body + b"x" if bad else body
            sig = self.sign(args, body)
            if variant == "longsig":
                sig = "A" * 9000
            elif variant == "notbase64":
                sig = "not base64!"
            size = 70000 if variant == "bigpayload" else len(body)
            if variant == "bigblob":
                size = 100
            return {"mediaType": COSIGN_PAYLOAD, "digest": d, "size": size,
                    "annotations": {COSIGN_ANNOTATION: sig}}

        empty = b"{}"

        def manifest(layers, artifact=COSIGN_SIG, pad=0):
            m = {"schemaVersion": 2, "mediaType": MT_OCI, "artifactType": artifact,
                 "config": {"mediaType": artifact, "digest": sha256(empty), "size": 2},
                 "layers": layers,
                 "subject": {"mediaType": MT_DOCKER, "digest": subject, "size": 0}}
            if pad:
                m["annotations"] = {"padding": "x" * pad}
            body = jdump(m, None)
            if variant == "notjson" and artifact == COSIGN_SIG:
                body = b"this is not JSON {"
            self.sig_manifests[sha256(body)] = (body, MT_OCI)
            return {"mediaType": MT_OCI, "digest": sha256(body), "size": len(body),
                    "artifactType": artifact}

        with self.lock:
            self.sig_blobs[sha256(empty)] = empty
            spdx = manifest([{"mediaType": "application/spdx+json", "digest": sha256(empty),
                              "size": 2}], "application/spdx+json")
            if variant == "nosigs":
                sigs = []
            elif variant == "manylayers":
                sigs = [manifest([layer(n) for n in range(17)])]
            elif variant == "manymanifests":
                sigs = [manifest([layer(n)]) for n in range(17)]
            elif variant == "mixed":
                sigs = [manifest([layer(0)]), manifest([layer(1, bad=True)])]
            else:
                sigs = [manifest([layer(0), layer(1, bad=variant == "badpayload")],
                                 pad=300 * 1024 if variant == "hugemanifest" else 0)]
            index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": sigs + [spdx]}
            if variant == "hugeindex":
                index["annotations"] = {"padding": "x" * (300 * 1024)}
            res = {"index": jdump(index, None), "tag": sigs[0]["digest"] if sigs else None}
            self.sig_cache[key] = res
            return res

    def sign(self, args, body):
        """base64 of body's signature by --cosign-key, or of something that
        is no signature."""
        if not args.cosign_key:
            return base64.b64encode(b"not a signature of " + sha256(body).encode()).decode()
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        with open(args.cosign_key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()
        return base64.b64encode(key.sign(body)).decode()

    def huge_list(self, name, count):
        """One tag list page of count names that ignores n and has no Link
        (a registry's own choice): "w000000"... and, among them, two minor
        versions and two tags that begin with "v" (OpenShift orders those
        among the other tags by their bytes: "v-a" before "w000000")."""
        with self.lock:
            if getattr(self, "huge_list_cache", None) is None:
                tags = ["w%06d" % i for i in range(count - 4)]
                for i, t in enumerate(["v-b", "2.0", "v-a", "2.1"]):
                    tags.insert(len(tags) * (i + 1) // 5, t)
                self.huge_list_cache = json.dumps({"name": name, "tags": tags}).encode()
            return self.huge_list_cache

    def add_list(self, manifests, children):
        """A manifest list of children (bodies), added to manifests; its digest."""
        for c in children:
            manifests[sha256(c)] = c
        body = jdump({
            "schemaVersion": 2, "mediaType": MT_DOCKER_LIST,
            "manifests": [{"mediaType": json.loads(c)["mediaType"], "size": len(c),
                           "digest": sha256(c),
                           "platform": {"architecture": "amd64", "os": "linux"}}
                          for c in children],
        })
        manifests[sha256(body)] = body
        return sha256(body)

    def image_manifest(self, mt):
        oci = mt == MT_OCI
        return {
            "schemaVersion": 2, "mediaType": mt,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci
                       else "application/vnd.docker.container.image.v1+json",
                       "size": len(self.config), "digest": self.config_digest},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip" if oci
                        else "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": len(self.layer), "digest": self.layer_digest}],
        }

    def schema1(self, name):
        """(body, digest) of a signed schema 1 manifest for name:latest."""
        with self.lock:
            if name in self.schema1_cache:
                return self.schema1_cache[name]
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        key = ec.generate_private_key(ec.SECP256R1())
        pub = key.public_key()
        nums = pub.public_numbers()
        spki = pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
        kid32 = base64.b32encode(hashlib.sha256(spki).digest()[:30]).decode().rstrip("=")
        kid = ":".join(kid32[i:i + 4] for i in range(0, 48, 4))
        v1 = json.dumps({"id": hashlib.sha256(name.encode()).hexdigest(),
                         "created": "2024-01-01T00:00:00Z", "os": "linux",
                         "architecture": "amd64",
                         "container_config": {"Cmd": ["/bin/sh"]}}, sort_keys=True)
        payload = json.dumps({
            "schemaVersion": 1, "name": name, "tag": "latest", "architecture": "amd64",
            "fsLayers": [{"blobSum": self.layer_digest}],
            "history": [{"v1Compatibility": v1}],
        }, indent=3).encode()
        flen = payload.rindex(b"\n}")
        tail = payload[flen:]
        protected = b64url(json.dumps({
            "formatLength": flen, "formatTail": b64url(tail),
            "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }).encode())
        r, s = decode_dss_signature(key.sign((protected + "." + b64url(payload)).encode(),
                                             ec.ECDSA(hashes.SHA256())))
        sig = {
            "header": {"jwk": {"crv": "P-256", "kid": kid, "kty": "EC",
                               "x": b64url(nums.x.to_bytes(32, "big")),
                               "y": b64url(nums.y.to_bytes(32, "big"))},
                       "alg": "ES256"},
            "signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
            "protected": protected,
        }
        sigs = json.dumps([sig], indent=3).replace("\n", "\n   ").encode()
        body = payload[:flen] + b',\n   "signatures": ' + sigs + tail
        res = (body, sha256(payload))
        with self.lock:
            self.schema1_cache[name] = res
        return res


class Handler(BaseHTTPRequestHandler):
    server_version = "imagestream-hostile-registry/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("hostile: %s %s\n" % (self.address_string(), fmt % a))

    # -- plumbing

    def record(self):
        srv = self.server
        self.logged = None
        with srv.log_lock:
            if len(srv.reqlog) < 10000:
                self.logged = {"method": self.command, "path": self.path,
                               "authorization": self.headers.get("Authorization"),
                               "host": self.headers.get("Host"),
                               "user_agent": self.headers.get("User-Agent"), "time": time.time()}
                srv.reqlog.append(self.logged)

    def send(self, code, body=b"", ctype=None, headers=None, length=None):
        """A complete response; no body on HEAD."""
        self.close_connection = True
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        # no longer counted as served at once: once the response goes out,
        # the client may start its next request before this thread ends
        self.uncount()
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def uncount(self):
        if getattr(self, "counted", False):
            self.counted = False
            with self.server.log_lock:
                self.server.active -= 1
                self.server.active_by_host[self.count_host] -= 1

    def error(self, code, ecode, msg, headers=None):
        self.send(code, json.dumps({"errors": [{"code": ecode, "message": msg}]}).encode(),
                  "application/json", headers)

    def base(self):
        scheme = "https" if self.server.args.tls_cert else "http"
        return "%s://%s:%d" % ((scheme,) + self.server.server_address[:2])

    def expected_basic(self):
        return "Basic " + base64.b64encode(self.server.args.basic_credentials.encode()).decode()

    def do_HEAD(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        srv = self.server
        self.counted = not self.path.startswith("/_")
        if self.counted:
            self.count_host = self.headers.get("Host") or ""
            with srv.log_lock:
                srv.active += 1
                srv.max_active = max(srv.max_active, srv.active)
                n = srv.active_by_host.get(self.count_host, 0) + 1
                srv.active_by_host[self.count_host] = n
                srv.max_by_host[self.count_host] = max(srv.max_by_host.get(self.count_host, 0), n)
        try:
            self.route()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        finally:
            self.uncount()

    # -- routing

    def route(self):
        url = urlsplit(self.path)
        path, qs = url.path, parse_qs(url.query)
        srv = self.server
        c = srv.content
        if path == "/_log":
            with srv.log_lock:
                body = json.dumps(srv.reqlog).encode()
            return self.send(200, body, "application/json")
        if path == "/_reset":
            with srv.log_lock:
                srv.reqlog.clear()
                srv.max_active = srv.active
                srv.max_by_host = {h: n for h, n in srv.active_by_host.items() if n > 0}
            return self.send(200, b"{}", "application/json")
        if path == "/_concurrency":
            with srv.log_lock:
                body = json.dumps({"max": srv.max_active, "by_host": srv.max_by_host}).encode()
            return self.send(200, body, "application/json")
        if path == "/_flaky":
            srv.flaky_fail = qs.get("fail", ["0"])[0] == "1"
            return self.send(200, b"{}", "application/json")
        self.record()
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        if path in ("/token", "/token-big"):
            if (srv.args.basic_credentials and self.headers.get("Authorization")
                    != self.expected_basic()):
                return self.error(401, "UNAUTHORIZED", "token: credentials required")
            srv.tokens += 1
            tok = "loop-token-%d" % srv.tokens
            if path == "/token-big":
                tok += "-" + "p" * srv.args.big_token_size
                srv.big_tokens.add(tok)
            return self.send(200, json.dumps({
                "token": tok, "access_token": tok,
                "expires_in": 2000000000 if path == "/token-big" else 300,
                "issued_at": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ")}).encode(), "application/json")
        if path == "/token-deep":
            return self.send(200, c.deep_token, "application/json")
        if path == "/token-fail":
            return self.error(500, "UNKNOWN", "token endpoint failure")
        if path in ("/v2", "/v2/"):
            return self.send(200, b"{}", "application/json")
        if path == "/v2/_catalog":
            return self.send(200, json.dumps({"repositories": SCENARIOS}).encode(),
                             "application/json")
        m = re.match(r"^/v2/(.+)/(manifests|blobs|referrers)/([^/]+)$", path)
        if m:
            name, kind, ref = m.groups()
        else:
            m = re.match(r"^/v2/(.+)/tags/list$", path)
            if not m:
                return self.error(404, "NOT_FOUND", "no route")
            name, kind, ref = m.group(1), "tags", None
        scen = next((p for p in name.split("/") if p in SCENARIOS), None)
        if scen is None:
            return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if self.command not in ("GET", "HEAD"):
            return self.error(405, "UNSUPPORTED", "read-only")
        # (as Debian's registry: no referrers API but in "signed")
        if kind == "referrers" and scen != "signed":
            return self.error(404, "NOT_FOUND", "no route")
        if scen == "delayed":
            time.sleep(0.5)
            scen = "ok"
        if scen == "flaky":
            if srv.flaky_fail:
                return self.error(500, "UNKNOWN", "internal server error (flaky)")
            scen = "ok"
        behave = getattr(self, "behave_" + scen, None)
        if behave is not None:
            return behave(name, kind, ref, qs)
        if kind == "tags":
            return self.tags(name, scen, qs)
        if kind == "blobs":
            return self.blob(scen, ref)
        return self.manifest(name, scen, ref)

    # -- content scenarios

    def tags(self, name, scen, qs):
        if scen == "deepnest":
            return self.send(200, self.server.content.deep_tags, "application/json")
        if scen == "manypages":
            return self.many_pages(name, qs)
        if scen == "hugelist":
            return self.send(200, self.server.content.huge_list(name, self.server.args.huge_list_tags),
                             "application/json")
        if scen == "badtagnames":
            tags = ["1.0", "../../etc", "-dash", ".dot", "x" * 129, "a b", "", "latest"]
            return self.send(200, json.dumps({"name": name, "tags": tags}).encode(),
                             "application/json")
        if scen not in ("paged", "linkaway"):
            tags = ["1.0", "index", "latest"] if scen == "ok" else ["latest"]
            return self.send(200, json.dumps({"name": name, "tags": tags}).encode(),
                             "application/json")
        alltags = ["1.%d" % i for i in range(self.server.args.paged_tags)]
        try:
            n = max(1, min(1000, int(qs.get("n", ["2"])[0])))
        except ValueError:
            n = 2
        # a registry may send fewer than n (distribution's own limit)
        size = min(n, self.server.args.page_cap) if self.server.args.page_cap > 0 else n
        last = qs.get("last", [None])[0]
        rest = [t for t in alltags if last is None or t > last]
        page = rest[:size]
        headers = {}
        if len(rest) > size:
            base = self.server.args.redirect_target if scen == "linkaway" else ""
            headers["Link"] = '<%s/v2/%s/tags/list?n=%d&last=%s>; rel="next"' % (base, name, n, page[-1])
        return self.send(200, json.dumps({"name": name, "tags": page}).encode(),
                         "application/json", headers)

    def many_pages(self, name, qs):
        """Page "last" + 1 of --page-count, each about --page-size bytes."""
        args = self.server.args
        last = qs.get("last", [None])[0]
        page = int(last[1:].split("-")[0]) + 1 if last else 0
        padded = "padded" in name.split("/")
        if padded:
            tags = ["p%d-a" % page, "p%d-b" % page]
            doc = {"name": name, "tags": tags, "padding": "x" * args.page_size}
        else:
            # names of 100 bytes and more, as many as fill the page
            tags = ["p%d-%06d-%s" % (page, j, "x" * 90) for j in range(args.page_size // 110)]
            doc = {"name": name, "tags": tags}
        headers = {}
        if page + 1 < args.page_count:
            headers["Link"] = '</v2/%s/tags/list?n=1000&last=%s>; rel="next"' % (name, tags[-1])
        return self.send(200, json.dumps(doc).encode(), "application/json", headers)

    def big_content(self, kind, ref):
        big = self.server.content.big(self.server.args)
        if kind == "blobs":
            data = big["blobs"].get(ref) or self.server.content.blobs.get(ref)
            if data is None:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return self.send(200, data, "application/octet-stream", {"Docker-Content-Digest": ref})
        digest = big["tags"].get(ref, ref)
        body = big["manifests"].get(digest)
        if body is None:
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        return self.send(200, body, json.loads(body)["mediaType"], {"Docker-Content-Digest": digest})

    def behave_bigconfigs(self, name, kind, ref, qs):
        if kind == "tags":
            big = self.server.content.big(self.server.args)
            tags = sorted(t for t in big["tags"] if t not in ("many", "tiny"))
            return self.send(200, json.dumps({"name": name, "tags": tags}).encode(), "application/json")
        return self.big_content(kind, ref)

    behave_manychildren = behave_bigconfigs

    def behave_signed(self, name, kind, ref, qs):
        c = self.server.content
        parts = name.split("/")
        i = parts.index("signed")
        variant = parts[i + 1] if i + 1 < len(parts) and parts[i + 1] in SIGNED_VARIANTS else ""
        host = self.headers.get("Host") or ""
        if kind == "tags":
            return self.tags(name, "ok", qs)
        if kind == "referrers":
            if variant == "tagfallback":
                return self.error(404, "NOT_FOUND", "no route")
            if variant == "referrers500":
                return self.error(500, "UNKNOWN", "internal server error")
            body = c.signed(self.server.args, variant, host, name, ref)["index"]
            return self.send(200, body, MT_OCI_INDEX)
        c.signed(self.server.args, variant, host, name, c.digest)
        if kind == "blobs":
            data = c.sig_blobs.get(ref) or c.blobs.get(ref)
            if data is None:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return self.send(200, data, "application/octet-stream", {"Docker-Content-Digest": ref})
        if ref in c.sig_manifests:
            body, ctype = c.sig_manifests[ref]
            return self.send(200, body, ctype, {"Docker-Content-Digest": ref})
        m = re.match(r"^sha256-([0-9a-f]{64})\.sig$", ref)
        if m:
            tag = c.signed(self.server.args, variant, host, name, "sha256:" + m.group(1))["tag"]
            if variant != "tagfallback" or tag is None:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            body, ctype = c.sig_manifests[tag]
            return self.send(200, body, ctype, {"Docker-Content-Digest": tag})
        return self.manifest(name, "ok", ref)

    def blob(self, scen, ref):
        c = self.server.content
        data = c.blobs.get(ref)
        if data is None:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if scen == "bodymismatch":
            data = data + b"mismatch"
        return self.send(200, data, "application/octet-stream", {"Docker-Content-Digest": ref})

    def manifest(self, name, scen, ref):
        c = self.server.content
        bydigest = ref.startswith("sha256:")
        if scen == "foreignchild":
            return self.foreign_child(name, ref)
        if scen == "ok" and (ref == "index" or ref == c.index_digest):
            return self.send(200, c.index, MT_DOCKER_LIST, {"Docker-Content-Digest": c.index_digest})
        if scen == "schema1":
            body, dg = c.schema1(name)
            if bydigest and ref != dg:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, body, MT_SCHEMA1, {"Docker-Content-Digest": dg})
        if scen == "huge":
            if bydigest and ref != c.huge_digest:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, c.huge, MT_OCI, {"Docker-Content-Digest": c.huge_digest})
        for kind, body, dg in (("deepnest", c.deep, c.deep_digest),
                               ("badlayer", c.badlayer, c.badlayer_digest)):
            if scen == kind:
                if bydigest and ref != dg:
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return self.send(200, body, MT_DOCKER, {"Docker-Content-Digest": dg})
        if scen == "brokenjson":
            return self.send(200, c.broken, MT_DOCKER, {"Docker-Content-Digest": sha256(c.broken)})
        if scen == "bodymismatch" and bydigest:
            return self.send(200, c.other_manifest, MT_DOCKER, {"Docker-Content-Digest": ref})
        if bydigest and ref != c.digest and scen != "wrongdigest":
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        digest = c.digest
        if scen == "wrongdigest":
            digest = sha256(b"this is not the body")
        ctype = "application/x-unknown" if scen == "unknowntype" else MT_DOCKER
        return self.send(200, c.manifest, ctype, {"Docker-Content-Digest": digest})

    def foreign_child(self, name, ref):
        c = self.server.content
        parts = name.split("/")
        i = parts.index("foreignchild")
        foreign = "sha256:" + (parts[i + 1] if i + 1 < len(parts) else "0" * 64)
        if ref == c.digest or ref == foreign:
            return self.send(200, c.manifest, MT_DOCKER, {"Docker-Content-Digest": ref})
        index = jdump({
            "schemaVersion": 2, "mediaType": MT_DOCKER_LIST,
            "manifests": [
                {"mediaType": MT_DOCKER, "size": len(c.manifest), "digest": c.digest,
                 "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": MT_DOCKER, "size": len(c.manifest), "digest": foreign,
                 "platform": {"architecture": "s390x", "os": "linux"}}]})
        if ref.startswith("sha256:") and ref != sha256(index):
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        return self.send(200, index, MT_DOCKER_LIST, {"Docker-Content-Digest": sha256(index)})

    # -- behaviour scenarios (any endpoint of the repository)

    def body_for(self, name, kind, ref):
        c = self.server.content
        if kind == "blobs":
            return c.blobs.get(ref, c.layer), "application/octet-stream"
        if kind == "tags":
            return json.dumps({"name": name, "tags": ["latest"]}).encode(), "application/json"
        return c.manifest, MT_DOCKER

    def behave_slow(self, name, kind, ref, qs):
        args = self.server.args
        body, ctype = self.body_for(name, kind, ref)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if kind == "manifests":
            self.send_header("Docker-Content-Digest", sha256(body))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD":
            return
        deadline = time.time() + args.slow_seconds
        for i in range(len(body)):
            if time.time() >= deadline:
                break
            self.wfile.write(body[i:i + 1])
            self.wfile.flush()
            time.sleep(args.slow_interval)

    def behave_endless(self, name, kind, ref, qs):
        args = self.server.args
        _, ctype = self.body_for(name, kind, ref)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        self.wfile.write(b'{"schemaVersion": 2, "padding": "')
        chunk = b"x" * args.endless_chunk
        deadline = time.time() + args.endless_seconds
        sent = 0
        while time.time() < deadline and sent < args.endless_max_bytes:
            self.wfile.write(chunk)
            sent += len(chunk)
            if args.endless_delay:
                time.sleep(args.endless_delay)

    def behave_truncated(self, name, kind, ref, qs):
        body, ctype = self.body_for(name, kind, ref)
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) + 1000))
        if kind == "manifests":
            self.send_header("Docker-Content-Digest", sha256(body))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def behave_auth401loop(self, name, kind, ref, qs):
        return self.error(401, "UNAUTHORIZED", "authentication required", {
            "WWW-Authenticate": 'Bearer realm="%s/token",service="hostile",scope="repository:%s:pull"'
                                % (self.base(), name)})

    def behave_tokenfail(self, name, kind, ref, qs):
        return self.error(401, "UNAUTHORIZED", "authentication required", {
            "WWW-Authenticate": 'Bearer realm="%s/token-fail",service="hostile",scope="repository:%s:pull"'
                                % (self.base(), name)})

    def behave_deeptoken(self, name, kind, ref, qs):
        return self.error(401, "UNAUTHORIZED", "authentication required", {
            "WWW-Authenticate": 'Bearer realm="%s/token-deep",service="hostile",scope="repository:%s:pull"'
                                % (self.base(), name)})

    def behave_ratelimit(self, name, kind, ref, qs):
        parts = name.split("/")
        i = parts.index("ratelimit")
        form = parts[i + 1] if i + 1 < len(parts) else ""
        m = re.match(r"^(seconds|date|rfc850|asctime)-(\d+)$", form)
        hold = None
        if m and m.group(1) == "seconds":
            value = m.group(2)
        elif m:
            # the first whole second at least N s after the request was read
            hold = float(math.ceil((self.logged or {}).get("time", time.time()) + int(m.group(2))))
            value = http_date(hold, m.group(1))
        elif form == "past":
            value = http_date(1445412480, "imf")
        elif form in RETRY_AFTER_GARBAGE:
            value = RETRY_AFTER_GARBAGE[form]
        else:
            value = "7"
        if self.logged is not None:
            with self.server.log_lock:
                self.logged["retry_after"] = value
                self.logged["hold_until"] = hold
        return self.error(429, "TOOMANYREQUESTS", "rate limit exceeded", {"Retry-After": value})

    def behave_servererror(self, name, kind, ref, qs):
        return self.error(500, "UNKNOWN", "internal server error")

    def behave_redirectloop(self, name, kind, ref, qs):
        return self.send(302, b"", None, {"Location": self.base() + self.path})

    def behave_redirectblocked(self, name, kind, ref, qs):
        return self.send(302, b"", None, {
            "Location": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"})

    def behave_redirectok(self, name, kind, ref, qs):
        parts = name.split("/")
        i = parts.index("redirectok")
        parts[i] = "ok"
        target = self.path.replace("/v2/%s/" % name, "/v2/%s/" % "/".join(parts), 1)
        return self.send(307, b"", None, {"Location": self.base() + target})

    def behave_redirectto(self, name, kind, ref, qs):
        target = self.path.replace("/v2/%s/" % name, "/v2/ok/%s/" % name, 1)
        base = self.server.args.redirect_target
        parts = name.split("/")
        i = parts.index("redirectto")
        if i + 1 < len(parts) and parts[i + 1] in REDIRECT_HOSTS:
            # the same port at another spelling of the target's host
            port = urlsplit(base).port
            base = "http://%s:%d" % (REDIRECT_HOSTS[parts[i + 1]], port)
        return self.send(302, b"", None, {"Location": base + target})

    def behave_redirectscheme(self, name, kind, ref, qs):
        parts = name.split("/")
        i = parts.index("redirectscheme")
        scheme = parts[i + 1] if i + 1 < len(parts) else "file"
        if scheme == "file":
            location = "file:///etc/passwd"
        else:
            location = "%s://127.0.0.1:%d/x" % (scheme, self.server.server_address[1])
        return self.send(302, b"", None, {"Location": location})

    def behave_redirectchallenge(self, name, kind, ref, qs):
        parts = name.split("/")
        i = parts.index("redirectchallenge")
        auth = "basicauth" if i + 1 < len(parts) and parts[i + 1] == "basic" else "bearerauth"
        target = self.path.replace("/v2/%s/" % name, "/v2/%s/%s/" % (auth, name), 1)
        return self.send(302, b"", None, {"Location": self.server.args.redirect_target + target})

    def authorized(self, name, kind, ref, qs):
        parts = name.split("/")
        if "redirectto" in parts:
            return self.behave_redirectto(name, kind, ref, qs)
        if kind == "tags":
            return self.tags(name, next((p for p in parts if p in ("paged", "linkaway")), "ok"), qs)
        if kind == "blobs":
            return self.blob("ok", ref)
        return self.manifest(name, "ok", ref)

    def behave_basicauth(self, name, kind, ref, qs):
        if self.headers.get("Authorization") != self.expected_basic():
            return self.error(401, "UNAUTHORIZED", "authentication required",
                              {"WWW-Authenticate": 'Basic realm="hostile"'})
        return self.authorized(name, kind, ref, qs)

    def behave_bearerauth(self, name, kind, ref, qs):
        auth = self.headers.get("Authorization") or ""
        issued = ["Bearer loop-token-%d" % i for i in range(1, self.server.tokens + 1)]
        if auth not in issued:
            return self.error(401, "UNAUTHORIZED", "authentication required", {
                "WWW-Authenticate": 'Bearer realm="%s/token",service="hostile",scope="repository:%s:pull"'
                                    % (self.base(), name)})
        return self.authorized(name, kind, ref, qs)


    def behave_bigtoken(self, name, kind, ref, qs):
        if (self.headers.get("Authorization") or "")[len("Bearer "):] not in self.server.big_tokens:
            return self.error(401, "UNAUTHORIZED", "authentication required", {
                "WWW-Authenticate": 'Bearer realm="%s/token-big",service="hostile",scope="repository:%s:pull"'
                                    % (self.base(), name)})
        return self.authorized(name, kind, ref, qs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--huge-size", type=int, default=10 * 1024 * 1024)
    p.add_argument("--slow-interval", type=float, default=1.0)
    p.add_argument("--slow-seconds", type=float, default=120)
    p.add_argument("--endless-seconds", type=float, default=120)
    p.add_argument("--endless-chunk", type=int, default=16384)
    p.add_argument("--endless-delay", type=float, default=0.001)
    p.add_argument("--endless-max-bytes", type=int, default=1 << 30)
    p.add_argument("--paged-tags", type=int, default=5)
    p.add_argument("--page-cap", type=int, default=0)
    p.add_argument("--deep-levels", type=int, default=200000)
    p.add_argument("--big-token-size", type=int, default=20 * 1024)
    p.add_argument("--big-count", type=int, default=8)
    p.add_argument("--big-config-size", type=int, default=8 * 1024 * 1024)
    p.add_argument("--repeat-count", type=int, default=20)
    p.add_argument("--many-children", type=int, default=100)
    p.add_argument("--tiny-count", type=int, default=8)
    p.add_argument("--tiny-size", type=int, default=3584 * 1024)
    p.add_argument("--page-count", type=int, default=50)
    p.add_argument("--page-size", type=int, default=3584 * 1024)
    p.add_argument("--huge-list-tags", type=int, default=350000)
    p.add_argument("--redirect-target", default="http://127.0.0.1:9")
    p.add_argument("--basic-credentials", default="")
    p.add_argument("--cosign-key", default="")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    p.add_argument("--max-lifetime", type=float, default=600)
    p.add_argument("--parent-pid", type=int, default=0)
    args = p.parse_args()

    start_lifetime('hostile', args.max_lifetime, args.parent_pid)

    ThreadingHTTPServer.daemon_threads = True
    # (socketserver's backlog of 5 made the sixth of requests sent at once
    # wait for a retried connection: a concurrency the client never limited)
    ThreadingHTTPServer.request_queue_size = 64
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # the handshake happens on the first read, in the request's thread,
        # so that a client that never completes it blocks no other
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.args = args
    srv.content = Content(args.huge_size, args.deep_levels)
    srv.reqlog = []
    srv.log_lock = threading.Lock()
    srv.active = 0
    srv.max_active = 0
    srv.active_by_host = {}
    srv.max_by_host = {}
    srv.flaky_fail = False
    srv.tokens = 0
    srv.big_tokens = set()
    announce_and_serve(srv, args.port_file)


if __name__ == "__main__":
    main()
