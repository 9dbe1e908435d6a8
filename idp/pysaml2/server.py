#!/usr/bin/env python3
"""pysaml2 (saml2.server.Server + Debian xmlsec1) as a SAML 2.0 IdP on loopback. TEST ONLY.

Usage (run with idp/.venv/bin/python):
  idp/.venv/bin/python idp/pysaml2/server.py [serve] [--port 7002] \
      --sp-entity-id ID --acs URL [--sp-entity-id ID2 --acs URL2 ...] \
      [--sign both|assertion|response] [--key idp] [--encrypt] [--sha1] [--auto-login jane]
  idp/.venv/bin/python idp/pysaml2/server.py mint --sp-entity-id ID --acs URL \
      [--request-id _req] [--email jane@acme.com] [--now 2026-06-01T12:00:00Z] [--xml] [...]

serve: an HTTP IdP (stdlib http.server) on 127.0.0.1:PORT. Prints the metadata URL when ready;
stops on SIGTERM/SIGINT. Entity id = http://127.0.0.1:PORT/metadata.
  GET  /metadata                       IdP metadata (signing cert; SSO Redirect binding)
  GET  /sso?SAMLRequest=&RelayState=   HTTP-Redirect AuthnRequest in -> login form
                                       (or, with --auto-login USER, straight to the response)
  POST /login  username,password,...   -> auto-submitting HTTP-POST form to the SP's ACS
                                       carrying SAMLResponse (+ RelayState echoed)
  GET  /idp-initiated?sp=ENTITY&RelayState=&user=   unsolicited response (no InResponseTo)
  Users: jane / jane-pass (jane@acme.com, Jane Doe), john / john-pass (john@acme.com, John Roe).
mint: no server; prints one signed Response (base64, or XML with --xml) for a request id.
  --now pins the clock (IssueInstant, NotBefore, NotOnOrAfter); --seed makes IDs deterministic.
Signatures are rsa-sha256 + sha256 (pysaml2's default would be rsa-sha1/sha1) unless --sha1.
"""
import argparse
import base64
import calendar
import datetime as _dt
import hashlib
import html
import itertools
import os
import signal
import sys
import threading
import time as _time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = os.path.dirname(HERE)
KEYS = os.path.join(IDP, "keys")

import saml2  # noqa: E402
import saml2.entity  # noqa: E402
import saml2.assertion  # noqa: E402
import saml2.server  # noqa: E402
import saml2.time_util  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAME_FORMAT_URI, NameID, AUTHN_PASSWORD_PROTECTED  # noqa: E402
from saml2.xmldsig import SIG_RSA_SHA256, DIGEST_SHA256, SIG_RSA_SHA1, DIGEST_SHA1  # noqa: E402

USERS = {
    "jane": ("jane-pass", {"mail": ["jane@acme.com"], "givenName": ["Jane"], "sn": ["Doe"], "uid": ["jane"]}),
    "john": ("john-pass", {"mail": ["john@acme.com"], "givenName": ["John"], "sn": ["Roe"], "uid": ["john"]}),
}


def pin_clock(now_rfc3339):
    """Make pysaml2's time_util see a fixed instant (it uses time.gmtime() and datetime.now())."""
    fixed = calendar.timegm(_time.strptime(now_rfc3339.replace("Z", ""), "%Y-%m-%dT%H:%M:%S"))

    class _T:
        def __getattr__(self, name):
            return getattr(_time, name)

        @staticmethod
        def gmtime(t=None):
            return _time.gmtime(fixed if t is None else t)

        @staticmethod
        def time():
            return float(fixed)

    class _D(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            d = _dt.datetime.fromtimestamp(fixed, _dt.timezone.utc)
            return d if tz is not None else d.replace(tzinfo=None)

        @classmethod
        def utcnow(cls):
            return _dt.datetime.fromtimestamp(fixed, _dt.timezone.utc).replace(tzinfo=None)

    saml2.time_util.time = _T()
    saml2.time_util.datetime = _D


def seed_ids(seed):
    """Deterministic IDs ("_" + 40 hex) instead of pysaml2's random sid()."""
    counter = itertools.count(1)

    def sid(seed_arg=""):
        return "_" + hashlib.sha1(("%s/%d" % (seed, next(counter))).encode()).hexdigest()

    import saml2.s_utils
    orig = saml2.s_utils.sid
    for name, mod in list(sys.modules.items()):
        if (name == "saml2" or name.startswith("saml2.")) and getattr(mod, "sid", None) is orig:
            mod.sid = sid


def sp_metadata_xml(sp_entity_id, acs):
    spcert = "".join(l for l in open(os.path.join(KEYS, "sp-cert.pem")).read().splitlines() if "-----" not in l)
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">'
        '<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate>'
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        "<md:NameIDFormat>%s</md:NameIDFormat>"
        '<md:AssertionConsumerService Binding="%s" Location="%s" index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
        % (html.escape(sp_entity_id), spcert, NAMEID_FORMAT_EMAILADDRESS, BINDING_HTTP_POST, html.escape(acs))
    )


def make_server(entity_id, sso_url, sps, key="idp", sign="both", work_dir=None):
    conf = IdPConfig()
    conf.load({
        "entityid": entity_id,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(sso_url, BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "sign_response": sign in ("both", "response"),
            "sign_assertion": sign in ("both", "assertion"),
            "want_authn_requests_signed": False,
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_URI}},
        }},
        "key_file": os.path.join(KEYS, key + "-key.pem"),
        "cert_file": os.path.join(KEYS, key + "-cert.pem"),
        "encryption_keypairs": [{"key_file": os.path.join(KEYS, key + "-key.pem"),
                                 "cert_file": os.path.join(KEYS, key + "-cert.pem")}],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"inline": [sp_metadata_xml(e, a) for e, a in sps]},
        "allow_unknown_attributes": True,
    })
    if work_dir:
        os.makedirs(work_dir, exist_ok=True)
    return saml2.server.Server(config=conf), conf


def mint(srv, email, attrs, request_id, sp_entity_id, acs, sign="both", encrypt=False, sha1=False):
    """Return the Response XML (str) as pysaml2 makes it."""
    spcert = "".join(l for l in open(os.path.join(KEYS, "sp-cert.pem")).read().splitlines() if "-----" not in l)
    kw = dict(
        identity=attrs, in_response_to=request_id, destination=acs, sp_entity_id=sp_entity_id,
        name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email), userid=email,
        authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": srv.config.entityid},
        sign_response=sign in ("both", "response"), sign_assertion=sign in ("both", "assertion"),
        sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256, digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
    )
    if encrypt:
        kw.update(encrypt_assertion=True, encrypt_cert_assertion=spcert, encrypt_assertion_self_contained=True)
    return str(srv.create_authn_response(**kw))


def auto_post_form(action, saml_response_b64, relay_state):
    rs = ('<input type="hidden" name="RelayState" value="%s"/>' % html.escape(relay_state)) if relay_state is not None else ""
    return (
        "<!DOCTYPE html><html><head><title>pysaml2 test IdP: posting to the SP</title></head>"
        '<body onload="document.forms[0].submit()"><form method="post" action="%s">'
        '<input type="hidden" name="SAMLResponse" value="%s"/>%s'
        "<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>"
        % (html.escape(action), html.escape(saml_response_b64), rs)
    )


def login_form(saml_request, relay_state, error=""):
    hidden = '<input type="hidden" name="SAMLRequest" value="%s"/>' % html.escape(saml_request)
    if relay_state is not None:
        hidden += '<input type="hidden" name="RelayState" value="%s"/>' % html.escape(relay_state)
    return (
        "<!DOCTYPE html><html><head><title>pysaml2 test IdP: sign in</title></head><body>"
        "<h1>pysaml2 test IdP</h1><p>%s</p>"
        '<form method="post" action="/login">%s'
        '<label>Username <input id="username" name="username" autocomplete="username"/></label>'
        '<label>Password <input id="password" type="password" name="password"/></label>'
        '<button id="submit" type="submit">Sign in</button></form></body></html>'
        % (html.escape(error), hidden)
    )


def serve(args):
    base = "http://127.0.0.1:%d" % args.port
    entity_id = base + "/metadata"
    sps = list(zip(args.sp_entity_id, args.acs))
    srv, conf = make_server(entity_id, base + "/sso", sps, key=args.key, sign=args.sign)
    acs_of = dict(sps)
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            if args.verbose:
                sys.stderr.write("pysaml2-idp: " + fmt % a + "\n")

        def send(self, code, body, ctype="text/html; charset=utf-8"):
            b = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(b)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(b)

        def respond(self, saml_request, relay_state, user):
            with lock:
                req = srv.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
                msg = req.message
                sp = msg.issuer.text
                acs = msg.assertion_consumer_service_url or acs_of.get(sp)
                if sp not in acs_of:
                    return self.send(400, "unknown SP %s" % html.escape(sp))
                xml = mint(srv, USERS[user][1]["mail"][0], USERS[user][1], msg.id, sp, acs,
                           sign=args.sign, encrypt=args.encrypt, sha1=args.sha1)
            self.send(200, auto_post_form(acs, base64.b64encode(xml.encode()).decode(), relay_state))

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
            try:
                if u.path == "/metadata":
                    with lock:
                        md = str(entity_descriptor(conf))
                    return self.send(200, md, "application/samlmetadata+xml")
                if u.path == "/sso":
                    if "SAMLRequest" not in q:
                        return self.send(400, "SAMLRequest missing")
                    if args.auto_login:
                        return self.respond(q["SAMLRequest"], q.get("RelayState"), args.auto_login)
                    return self.send(200, login_form(q["SAMLRequest"], q.get("RelayState")))
                if u.path == "/idp-initiated":
                    sp = q.get("sp") or sps[0][0]
                    if sp not in acs_of:
                        return self.send(400, "unknown SP")
                    user = q.get("user", args.auto_login or "jane")
                    with lock:
                        xml = mint(srv, USERS[user][1]["mail"][0], USERS[user][1], None, sp, acs_of[sp],
                                   sign=args.sign, encrypt=args.encrypt, sha1=args.sha1)
                    return self.send(200, auto_post_form(acs_of[sp], base64.b64encode(xml.encode()).decode(),
                                                         q.get("RelayState")))
                if u.path in ("/", "/health"):
                    return self.send(200, "ok", "text/plain")
                return self.send(404, "not found", "text/plain")
            except Exception as e:  # a test IdP: say what went wrong
                return self.send(400, "error: %s" % html.escape(repr(e)), "text/plain")

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            f = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode(), keep_blank_values=True).items()}
            if urllib.parse.urlsplit(self.path).path != "/login":
                return self.send(404, "not found", "text/plain")
            user = f.get("username", "")
            if user not in USERS or USERS[user][0] != f.get("password"):
                return self.send(200, login_form(f.get("SAMLRequest", ""), f.get("RelayState"), "Wrong username or password"))
            try:
                return self.respond(f.get("SAMLRequest", ""), f.get("RelayState"), user)
            except Exception as e:
                return self.send(400, "error: %s" % html.escape(repr(e)), "text/plain")

    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), H)
    httpd.daemon_threads = True

    def stop(*_):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(entity_id, flush=True)
    httpd.serve_forever()
    httpd.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", nargs="?", default="serve", choices=["serve", "mint"])
    ap.add_argument("--port", type=int, default=int(os.environ.get("PYSAML2_PORT", "7002")))
    ap.add_argument("--sp-entity-id", action="append", default=[])
    ap.add_argument("--acs", action="append", default=[])
    ap.add_argument("--sign", default="both", choices=["both", "assertion", "response"])
    ap.add_argument("--key", default="idp", help="idp/keys/NAME-{key,cert}.pem")
    ap.add_argument("--encrypt", action="store_true", help="encrypt the assertion to idp/keys/sp-cert.pem")
    ap.add_argument("--sha1", action="store_true", help="rsa-sha1/sha1 instead of rsa-sha256/sha256")
    ap.add_argument("--auto-login", metavar="USER", help="skip the login form, sign in USER")
    ap.add_argument("--verbose", action="store_true")
    # mint
    ap.add_argument("--entity-id", default=None, help="mint: IdP entity id (default http://127.0.0.1:PORT/metadata)")
    ap.add_argument("--request-id", default=None, help="mint: InResponseTo (omit for unsolicited)")
    ap.add_argument("--user", default="jane")
    ap.add_argument("--now", help="mint: pin the clock, e.g. 2026-06-01T12:00:00Z")
    ap.add_argument("--seed", help="mint: deterministic IDs")
    ap.add_argument("--xml", action="store_true", help="mint: print XML instead of base64")
    a = ap.parse_args()
    if not a.sp_entity_id and os.environ.get("SP_ENTITY_ID"):
        a.sp_entity_id = [os.environ["SP_ENTITY_ID"]]
    if not a.acs and os.environ.get("SP_ACS_URL"):
        a.acs = [os.environ["SP_ACS_URL"]]
    if not a.sp_entity_id or len(a.sp_entity_id) != len(a.acs):
        ap.error("need one --acs per --sp-entity-id (at least one pair)")
    if a.cmd == "serve":
        return serve(a)
    if a.now:
        pin_clock(a.now)
    if a.seed:
        seed_ids(a.seed)
    base = "http://127.0.0.1:%d" % a.port
    srv, _ = make_server(a.entity_id or base + "/metadata", base + "/sso", list(zip(a.sp_entity_id, a.acs)),
                         key=a.key, sign=a.sign)
    xml = mint(srv, USERS[a.user][1]["mail"][0], USERS[a.user][1], a.request_id, a.sp_entity_id[0], a.acs[0],
               sign=a.sign, encrypt=a.encrypt, sha1=a.sha1)
    print(xml if a.xml else base64.b64encode(xml.encode()).decode())


if __name__ == "__main__":
    main()
