"""Schemathesis hooks for `.ci/openapi.sh`: a valid credential for the demo.

Loaded through `SCHEMATHESIS_HOOKS=.ci/schemathesis_hooks.py`. The script
sets, for the demo it started:

- `DEMO_DIALECT`: standard, echome, datarhei, sachet, keytoken or drf;
- `DEMO_BASE_URL`: `http://127.0.0.1:PORT` (no trailing slash);
- `DEMO_COOKIES=1` for the standard dialect in cookie mode;
- optionally `DEMO_USER`, `DEMO_PASSWORD`, `DEMO_CLIENT` (the demo's
  defaults: demo / demo-password, keytoken client `demo`).

The auth provider logs in to the demo as that user and hands the
credential over in the dialect's scheme: `Authorization: Bearer` (standard,
echome, datarhei, sachet), `Authorization: Token` (drf), `Authorization:
Basic base64(key:token)` (keytoken), or in cookie mode the session cookies
plus `X-CSRF-Token` (and every request in cookie mode carries the demo's own
`Origin`, as a page of the demo would send it).

A credential goes to the operations whose OpenAPI `security` (their own,
else the document's) names at least one scheme, `[{}, {...}]` (optional
auth) included; operations the document leaves open get none. Set
`DEMO_AUTH_EVERYWHERE=1` to send it to every operation.

Freshness: schemathesis' own cache (`refresh_interval`) is off, so `get` is
asked for every generated case and keeps the credential here. It logs in
again only after a request that carried the credential may have ended it:
a 401 answer, or a 2xx answer to a logout, a refresh or a DELETE
(`after_call`). The coverage phase makes all of an operation's cases before
it sends one, so `before_call` also swaps a credential that died since its
case was made for the live one. So every request carries a live credential
unless the one before it just revoked it, and each test case is one request
(no replay: schemathesis' reactive re-login works on its own cache only).
A 2xx from `/logout-everywhere` revokes the user up to the current whole
second (`iat` has seconds only), so the next login waits for the next one.

Login throttle: the fuzzer's failed logins come from 127.0.0.1 and fill its
counters (per address, per username + address: the fuzzer reuses "demo",
which it reads off `/whoami`). The hook's own logins leave from 127.0.0.2
(`DEMO_HOOK_SOURCE`), and send back the device token (`Device-Token`) the
first login answered, which exempts a known device from the counters until
a subject revocation (logout-everywhere) ends it; the address then stays a
known one for the user. The first login happens when this file loads,
before schemathesis sends anything. A 429 is waited out (its `Retry-After`,
30 s in all) before the hook gives up.

Examples: generated data never logs in, and never holds a live token, so
`before_add_examples` adds to the examples phase a valid login of the demo
user and the requests of `TOKEN_EXAMPLES` (refresh, verify, logout, sign-up
with a live token or the demo's client), per documented body media type;
`before_call` fills their token placeholders from a login of their own and
puts the credential on them. So the 2xx answers of those routes (bodies,
headers, cookies) are held to the document too, not only their refusals.
`DEMO_HOOK_LOG` names a file that records each login's status.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

import schemathesis

DIALECT = os.environ.get("DEMO_DIALECT", "standard")
BASE_URL = os.environ.get("DEMO_BASE_URL", "http://127.0.0.1:3000").rstrip("/")
COOKIES = os.environ.get("DEMO_COOKIES", "") not in ("", "0")
USER = os.environ.get("DEMO_USER", "demo")
PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password")
CLIENT = os.environ.get("DEMO_CLIENT", "demo")
EVERYWHERE = os.environ.get("DEMO_AUTH_EVERYWHERE", "") not in ("", "0")

# login route, JSON body, token field, Authorization scheme
LOGIN: dict[str, tuple[str, dict[str, str], str, str]] = {
    "standard": ("/auth/login", {"username": USER, "password": PASSWORD}, "access_token", "Bearer"),
    "echome": ("/api/v1/identity/token", {"username": USER, "password": PASSWORD}, "access", "Bearer"),
    "datarhei": ("/api/login", {"username": USER, "password": PASSWORD}, "access_token", "Bearer"),
    "sachet": ("/users/login", {"username": USER, "password": PASSWORD}, "auth_token", "Bearer"),
    "keytoken": ("/users/token", {"client": CLIENT, "email": USER, "password": PASSWORD}, "token", "Basic"),
    "drf": ("/auth/access_token/", {"username": USER, "password": PASSWORD}, "access_token", "Token"),
}
if DIALECT not in LOGIN:
    raise RuntimeError(f"DEMO_DIALECT={DIALECT!r}: not one of {', '.join(LOGIN)}")
if COOKIES and DIALECT != "standard":
    raise RuntimeError("DEMO_COOKIES=1 is for the standard dialect only")

DATARHEI_REFRESH = "/login/refresh"
DEVICE_HEADER = "Device-Token"
DEVICE_COOKIE = "device_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_WAIT = 30.0  # seconds of 429s waited out, at most, per login
BODY_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")  # of the added examples
LOG = os.environ.get("DEMO_HOOK_LOG")  # a file that records each login


# The hook's own logins leave from this loopback address (the fuzzer's
# requests come from 127.0.0.1), so the throttle counters the fuzzer fills
# are never the hook's; empty: the system's choice.
SOURCE_ADDRESS = os.environ.get("DEMO_HOOK_SOURCE", "127.0.0.2")


class _SourceAddress(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (SOURCE_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


_http = requests.Session()
if SOURCE_ADDRESS and BASE_URL.startswith("http://127."):
    _http.mount("http://", _SourceAddress())


def _log(line: str) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as out:
            out.write(line + "\n")


class Credential:
    """What one login gave: request headers, and cookies with their `Path`."""

    def __init__(
        self,
        headers: dict[str, str],
        cookies: list[tuple[str, str, str]],
        refresh_authorization: str | None = None,
    ) -> None:
        self.headers = headers
        self.cookies = cookies
        # datarhei's refresh route takes the refresh token as its Bearer
        self.refresh_authorization = refresh_authorization

    def markers(self) -> set[str]:
        """Values that show a request carries this credential."""
        if "Authorization" in self.headers:
            return {self.headers["Authorization"], self.refresh_authorization or self.headers["Authorization"]}
        return {value for _, value, _ in self.cookies}

    def headers_for(self, path: str) -> dict[str, str]:
        """The headers a client sends to `path`."""
        if self.refresh_authorization and path.rstrip("/").endswith(DATARHEI_REFRESH):
            return {**self.headers, "Authorization": self.refresh_authorization}
        return self.headers

    def cookies_for(self, path: str) -> dict[str, str]:
        """The cookies a browser sends to `path` (the `Path` attribute is a prefix)."""
        return {
            name: value
            for name, value, cookie_path in self.cookies
            if path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/") or cookie_path == "/"
        }


class _State:
    lock = threading.RLock()
    credential: Credential | None = None
    stale = True
    device_token: str | None = None
    # every credential handed out, by its header or cookie values
    issued: set[str] = set()
    # no login before this (time.time()): see `after_call`
    not_before = 0.0
    logins = 0


def _current() -> Credential:
    """The live credential, logging in again if the last one may be dead."""
    with _State.lock:
        if _State.stale or _State.credential is None:
            time.sleep(max(0.0, _State.not_before - time.time()))
            _State.credential = _login()
            _State.stale = False
            _State.issued.update(_State.credential.markers())
        return _State.credential


def _login_response() -> requests.Response:
    """A successful login of the demo user (429s waited out a while)."""
    path, body, _, _ = LOGIN[DIALECT]
    headers = {"Accept": "application/json"}
    if COOKIES:
        headers["Origin"] = BASE_URL
    if _State.device_token:
        headers[DEVICE_HEADER] = _State.device_token
    deadline = time.monotonic() + LOGIN_WAIT
    while True:
        response = _http.post(BASE_URL + path, json=body, headers=headers, timeout=30)
        _http.cookies.clear()  # each login starts clean; the cookies are read off `response`
        _log(f"login {response.status_code} (device token sent: {DEVICE_HEADER in headers})")
        if response.status_code == 200:
            break
        retry_after = response.headers.get("Retry-After", "")
        wait = float(retry_after) if retry_after.isdigit() else 1.0
        if response.status_code != 429 or time.monotonic() + wait > deadline:
            raise RuntimeError(f"login as {USER!r} at POST {path}: {response.status_code} {response.text[:300]}")
        time.sleep(wait)
    _State.logins += 1
    device = response.headers.get(DEVICE_HEADER) or response.cookies.get(DEVICE_COOKIE)
    if device:
        _State.device_token = device
    return response


def _login() -> Credential:
    """Logs in and makes the credential of the dialect's scheme."""
    _, _, field, scheme = LOGIN[DIALECT]
    response = _login_response()
    data: dict[str, Any] = response.json()
    if COOKIES:
        cookies = [(c.name, c.value or "", c.path or "/") for c in response.cookies if c.name != DEVICE_COOKIE]
        csrf = data.get("csrf_token")
        if not cookies or not isinstance(csrf, str):
            raise RuntimeError(f"cookie-mode login answered no cookies or no csrf_token: {sorted(data)}")
        return Credential({CSRF_HEADER: csrf, "Origin": BASE_URL}, cookies)
    token = data.get(field)
    if not isinstance(token, str):
        raise RuntimeError(f"login answered no {field!r}: keys {sorted(data)}")
    if scheme == "Basic":
        key = data.get("key")
        if not isinstance(key, str):
            raise RuntimeError(f"keytoken login answered no 'key': keys {sorted(data)}")
        value = "Basic " + base64.b64encode(f"{key}:{token}".encode()).decode("ascii")
    else:
        value = f"{scheme} {token}"
    refresh = data.get("refresh_token") if DIALECT == "datarhei" else None
    return Credential({"Authorization": value}, [], f"Bearer {refresh}" if isinstance(refresh, str) else None)


# Log in once now, before schemathesis sends anything: the device token this
# answers keeps every later login clear of the throttle that the fuzzer's
# failed logins build up. A demo that cannot log its user in fails here.
_current()


def _declares_security(operation: Any) -> bool:
    """Whether the document names a security scheme for this operation."""
    raw = operation.definition.raw
    security = raw.get("security") if isinstance(raw, dict) and "security" in raw else None
    if security is None:
        security = operation.schema.raw_schema.get("security")
    return any(requirement for requirement in security or [])


@schemathesis.auth(refresh_interval=None)
class DemoAuth:
    """Logs in to the demo under test; see the module doc."""

    def get(self, case: Any, context: Any) -> Credential | None:
        if not EVERYWHERE and not _declares_security(context.operation):
            return None
        return _current()

    def set(self, case: Any, data: Credential, context: Any) -> None:
        _apply(case, data)


def _apply(case: Any, data: Credential) -> None:
    case.headers = dict(case.headers or {})
    case.headers.update(data.headers_for(case.path))
    if data.cookies:
        case.cookies = dict(case.cookies or {})
        case.cookies.update(data.cookies_for(case.path))


def _carries(case: Any, markers: set[str]) -> bool:
    """Whether the request carries one of these credential values."""
    if (case.headers or {}).get("Authorization") in markers:
        return True
    return any(value in markers for value in (case.cookies or {}).values())


def _may_revoke(case: Any) -> bool:
    path = case.path.lower()
    return case.method.upper() == "DELETE" or any(word in path for word in ("logout", "refresh", "revoke"))


# Requests that succeed only with a live token in their body: added to the
# examples phase (per documented body media type) with placeholders that
# `before_call` fills from a login of their own, so that their 2xx answers
# are checked too. `{access}`, `{refresh}`, `{key}`: that login's values;
# `{unique}`: a new name each time.
TOKEN_EXAMPLES: dict[str, list[tuple[str, str, dict[str, str]]]] = {
    "standard": [
        ("POST", "/auth/refresh", {"refresh_token": "{refresh}"}),
        ("POST", "/auth/verify", {"token": "{access}"}),
    ],
    "echome": [("POST", "/api/v1/identity/token/refresh", {"refresh": "{refresh}"})],
    "datarhei": [],
    "sachet": [("POST", "/users/logout", {"token": "{access}"})],
    "keytoken": [
        ("POST", "/users/token/refresh", {"client": CLIENT, "key": "{key}", "refresh": "{refresh}"}),
        ("DELETE", "/users/token", {"client": CLIENT}),
        ("POST", "/users", {"client": CLIENT, "email": "{unique}@example.com", "password": "new-password"}),
    ],
    "drf": [
        ("POST", "/auth/refresh_token/", {"token": "{access}"}),
        ("POST", "/auth/verify_token/", {"token": "{access}"}),
    ],
}
# login answer fields: access token, refresh token (cookie mode: the cookies)
TOKEN_FIELDS = {
    "standard": ("access_token", "refresh_token"),
    "echome": ("access", "refresh"),
    "datarhei": ("access_token", "refresh_token"),
    "sachet": ("auth_token", None),
    "keytoken": ("token", "refresh"),
    "drf": ("access_token", None),
}
_unique = iter(range(1, 1 << 30))
# marks the examples added here (schemathesis puts no credential on them);
# `before_call` takes it off again
EXAMPLE_MARK = "X-Hook-Example"


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, str):
        for name, filled in values.items():
            value = value.replace("{" + name + "}", filled)
    return value


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    return isinstance(value, str) and any(f"{{{n}}}" in value for n in ("access", "refresh", "key", "unique"))


def _fresh_values() -> dict[str, str]:
    """The placeholders' values, from a login of their own."""
    response = _login_response()
    data = response.json()
    access_field, refresh_field = TOKEN_FIELDS[DIALECT]
    values = {"unique": f"new-{os.getpid()}-{next(_unique)}"}
    if COOKIES:
        for cookie in response.cookies:
            if "access" in cookie.name:
                values["access"] = cookie.value or ""
            elif "refresh" in cookie.name:
                values["refresh"] = cookie.value or ""
    else:
        for name, field in (("access", access_field), ("refresh", refresh_field), ("key", "key")):
            if field and isinstance(data.get(field), str):
                values[name] = data[field]
    return values


def _body_media_types(operation: Any) -> list[str]:
    raw = operation.definition.raw if isinstance(operation.definition.raw, dict) else {}
    content = (raw.get("requestBody") or {}).get("content") or {}
    return [m for m in content if m.split(";")[0].strip().lower() in BODY_MEDIA_TYPES]


@schemathesis.hook
def before_add_examples(context: Any, examples: list[Any]) -> None:
    """Adds requests generated data never makes to the examples phase.

    A valid login of the demo user (per documented body media type), and the
    `TOKEN_EXAMPLES` requests, so that the 2xx answers of the login, refresh,
    verify and logout routes (body, headers, cookies) are checked too, not
    only their refusals.
    """
    operation = context.operation
    if operation is None:
        return
    method, path = operation.method.upper(), operation.path
    headers = {EXAMPLE_MARK: "1", **({"Origin": BASE_URL} if COOKIES else {})}
    login_path, login_body, _, _ = LOGIN[DIALECT]
    bodies = [login_body] if (method, path) == ("POST", login_path) else []
    bodies += [body for m, p, body in TOKEN_EXAMPLES[DIALECT] if (m, p) == (method, path)]
    for body in bodies:
        for media_type in _body_media_types(operation):
            examples.append(operation.Case(body=dict(body), media_type=media_type, headers=dict(headers)))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Fills in the added examples; swaps a credential that died since its case was made.

    The coverage phase makes all its cases for an operation before it sends
    the first, so `set` may have put in a credential that a logout sent in
    between has since revoked. In cookie mode every request also comes from
    the demo's own page (its `Origin`).
    """
    with _State.lock:
        if case.headers and case.headers.pop(EXAMPLE_MARK, None) is not None:
            if _has_placeholder(case.body):
                case.body = _fill(case.body, _fresh_values())
            if EVERYWHERE or _declares_security(case.operation):
                _apply(case, _current())
        if _State.issued and _carries(case, _State.issued):
            live = _current()
            if not _carries(case, live.markers()):
                _apply(case, live)
    if COOKIES:
        case.headers = dict(case.headers or {})
        case.headers.setdefault("Origin", BASE_URL)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Marks the credential stale once a request that carried it may have ended it."""
    with _State.lock:
        if _State.credential is None or not _carries(case, _State.credential.markers()):
            return
        status = response.status_code
        if status == 401 or (200 <= status < 300 and _may_revoke(case)):
            _State.stale = True
        if 200 <= status < 300 and "everywhere" in case.path.lower():
            # Revoking a subject ends every token it was issued up to this
            # whole second (`iat` has seconds only): a login in the same
            # second would get a dead token.
            _State.not_before = float(int(time.time()) + 1) + 0.01
