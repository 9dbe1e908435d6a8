#!/usr/bin/env python3
"""Follows an SP's redirect URL (an HTTP-Redirect AuthnRequest) through a local IdP's login
as a browser would, and prints the HTTP-POST form the IdP answers with, as JSON:
{"action", "SAMLResponse", "RelayState"}.

Works with SimpleSAMLphp's exampleauth form (AuthState), pysaml2's idp/pysaml2/server.py
form (or --auto-login), and any IdP that answers straight away with the POST form.

    python3 idp/follow.py URL [--user jane] [--password jane-pass]
"""
import argparse
import html
import http.cookiejar
import json
import re
import sys
import urllib.parse
import urllib.request


def _inputs(page):
    out = {}
    for m in re.finditer(r"<input\b[^>]*>", page, re.S):
        tag = m.group(0)
        n = re.search(r'name="([^"]*)"', tag)
        v = re.search(r'value="([^"]*)"', tag, re.S)
        if n:
            out[html.unescape(n.group(1))] = html.unescape(v.group(1)) if v else ""
    return out


def _form(page):
    fields = _inputs(page)
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    return fields, (html.unescape(action.group(1)) if action else None)


def follow(url, user="jane", password="jane-pass", timeout=20):
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit("follow.py only talks to IdPs on 127.0.0.1")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    r = opener.open(url, timeout=timeout)
    page = r.read().decode("utf-8", "replace")
    here = r.geturl()
    for _ in range(3):
        fields, action = _form(page)
        if "SAMLResponse" in fields:
            return {"action": action, "SAMLResponse": fields["SAMLResponse"],
                    "RelayState": fields.get("RelayState")}
        body = {"username": user, "password": password}
        if "AuthState" in fields:
            body["AuthState"] = fields["AuthState"]
            post_url = urllib.parse.urljoin(here, urllib.parse.urlsplit(here).path)
        else:
            for k, v in fields.items():
                body.setdefault(k, v)
            post_url = urllib.parse.urljoin(here, action or here)
        r = opener.open(post_url, data=urllib.parse.urlencode(body).encode(), timeout=timeout)
        page = r.read().decode("utf-8", "replace")
        here = r.geturl()
    raise RuntimeError("no SAMLResponse form after login: %s" % page[:500])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--user", default="jane")
    ap.add_argument("--password", default="jane-pass")
    a = ap.parse_args()
    json.dump(follow(a.url, a.user, a.password), sys.stdout)
    print()


if __name__ == "__main__":
    main()
