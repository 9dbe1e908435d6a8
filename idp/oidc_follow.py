#!/usr/bin/env python3
"""Follows an OIDC authorization URL through oidc-provider's devInteractions login and
consent pages (idp/node/op.mjs) as a browser would, and prints the query string of the
redirect to the client's redirect URI (the callback: code, state, iss).

    python3 idp/oidc_follow.py AUTH_URL REDIRECT_URI [--login jane@acme.com] [--deny]

With --deny the user logs in, then declines on the consent page: the page's "[ Cancel ]"
link (oidc-provider's /interaction/<uid>/abort) is followed, and the provider redirects
with error=access_denied, error_description and the state.
"""
import argparse
import html
import http.cookiejar
import re
import sys
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def follow(auth_url, redirect_uri, login="jane@acme.com", deny=False, timeout=20):
    for u in (auth_url, redirect_uri):
        if not u.startswith("http://127.0.0.1:"):
            raise SystemExit("oidc_follow.py only talks to 127.0.0.1")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())

    def go(url, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            r = opener.open(url, data=data, timeout=timeout)
            return r.status, None, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Location"), e.read().decode("utf-8", "replace")

    url = auth_url
    for _ in range(12):
        status, location, page = go(url)
        if location is None:
            if "/interaction/" in url and deny and 'name="login"' not in page:
                m = re.search(r'href="([^"]*/abort)"', page)
                if not m:
                    raise RuntimeError("no cancel link on the consent page: %s" % page[:300])
                status, location, page = go(urllib.parse.urljoin(url, html.unescape(m.group(1))))
            elif "/interaction/" in url:
                form = ({"prompt": "login", "login": login, "password": "x"}
                        if 'name="login"' in page else {"prompt": "consent"})
                status, location, page = go(url, form)
            if location is None:
                raise RuntimeError("no redirect from %s (%s): %s" % (url, status, page[:300]))
        url = urllib.parse.urljoin(url, location)
        if url.startswith(redirect_uri):
            return urllib.parse.urlsplit(url).query
    raise RuntimeError("no redirect to the client after 12 hops")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("auth_url")
    ap.add_argument("redirect_uri")
    ap.add_argument("--login", default="jane@acme.com")
    ap.add_argument("--deny", action="store_true", help="decline on the consent page")
    a = ap.parse_args()
    print(follow(a.auth_url, a.redirect_uri, a.login, a.deny))


if __name__ == "__main__":
    main()
