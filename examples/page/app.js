// The demo page's script, served at /app.js (the page's
// Content-Security-Policy allows no inline script). Plain JavaScript, no
// build step, no dependencies.
//
// The tokens are in HttpOnly cookies this script never sees. What it does:
// - every request is a same-origin `fetch` with `credentials: "same-origin"`;
// - every POST carries `X-CSRF-Token`: the value of the readable CSRF cookie
//   (its name is in <meta name="csrf-cookie">), or the `csrf_token` the last
//   login or refresh answered when the cookie cannot be read;
// - a protected call (whoami, notes, logout) answered 401 sends ONE refresh
//   (concurrent 401s share it) and retries once; a refresh that fails is
//   shown and nothing more is tried;
// - `window.demo.refreshes` counts every refresh sent (automatic or by the
//   button), `window.demo.busy` is true while a request is in flight.
"use strict";

(() => {
  const meta = (name, fallback) => {
    const el = document.querySelector(`meta[name="${name}"]`);
    return el && el.content ? el.content : fallback;
  };
  const CSRF_COOKIE = meta("csrf-cookie", "__Host-csrf_token");
  const REFRESH_PATH = meta("refresh-path", "/auth/refresh");
  const MOUNT = meta("auth-mount", "/auth");
  const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

  // What tests (and the curious) read.
  const demo = {
    refreshes: 0, // refreshes sent, automatic or by the button
    busy: false, // a request is in flight
    pending: 0, // how many actions are in flight
    lastStatus: null, // the HTTP status shown in #output
  };
  window.demo = demo;

  // The CSRF value the last login or refresh answered (fallback for the cookie).
  let rememberedCsrf = null;
  // When the access cookie expires, as far as this page knows (ms), or null.
  let accessExpiresAt = null;
  // Bumped by every login or refresh that succeeded: a 401 to a request sent
  // before the latest one is retried without another refresh.
  let generation = 0;
  // The refresh in flight, shared by every caller while it lasts.
  let refreshing = null;

  function readCookie(name) {
    for (const part of document.cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
    return null;
  }

  function csrfToken() {
    return readCookie(CSRF_COOKIE) || rememberedCsrf;
  }

  // One request: the parsed JSON body, or {"status": N} when there is none.
  async function send(method, path, body) {
    const headers = { Accept: "application/json" };
    if (!SAFE_METHODS.has(method)) {
      const token = csrfToken();
      if (token) headers["X-CSRF-Token"] = token;
    }
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = { status: res.status };
    if (text !== "") {
      try {
        data = JSON.parse(text);
      } catch {
        data = { status: res.status, body: text };
      }
    }
    return { status: res.status, data };
  }

  // A login or refresh answered {"expires_in", "csrf_token"}.
  function remember(answer) {
    const data = answer.data || {};
    if (typeof data.csrf_token === "string") rememberedCsrf = data.csrf_token;
    accessExpiresAt = typeof data.expires_in === "number" ? Date.now() + data.expires_in * 1000 : null;
    generation += 1;
  }

  // The session is over (logout, or a refresh the server refused and whose cookies it cleared).
  function forget() {
    rememberedCsrf = null;
    accessExpiresAt = null;
  }

  // POST to the refresh route; single-flight.
  function refresh() {
    if (!refreshing) {
      demo.refreshes += 1;
      refreshing = send("POST", REFRESH_PATH)
        .then((answer) => {
          if (answer.status === 200) remember(answer);
          else if (answer.status === 401) forget();
          return answer;
        })
        .finally(() => {
          refreshing = null;
        });
    }
    return refreshing;
  }

  // A call to a protected route: on 401, one refresh (shared) and one retry.
  async function protectedCall(method, path, body) {
    const sentAt = generation;
    const first = await send(method, path, body);
    if (first.status !== 401) return first;
    if (generation === sentAt || refreshing) {
      const renewed = await refresh();
      if (renewed.status !== 200) return renewed;
    }
    return send(method, path, body);
  }

  const valueOf = (id) => document.getElementById(id).value;

  async function login() {
    const answer = await send("POST", `${MOUNT}/login`, {
      username: valueOf("username"),
      password: valueOf("password"),
    });
    if (answer.status === 200) remember(answer);
    return answer;
  }

  async function logout() {
    // The access cookie is gone once its token expired, and a logout without
    // it answers 401 and keeps the session (the refresh cookie only goes to
    // the refresh route): refresh first when this page knows it expired, to
    // save that round trip. A 401 anyway still refreshes once and retries.
    if (accessExpiresAt !== null && Date.now() >= accessExpiresAt) {
      const renewed = await refresh();
      if (renewed.status !== 200) return renewed;
    }
    const answer = await protectedCall("POST", `${MOUNT}/logout`);
    if (answer.status === 204) forget();
    return answer;
  }

  function show(answer) {
    const out = document.getElementById("output");
    out.textContent = JSON.stringify(answer.data, null, 2);
    out.setAttribute("data-status", String(answer.status));
    document.getElementById("status").textContent = String(answer.status);
    demo.lastStatus = answer.status;
  }

  // Runs one button's action: busy meanwhile, its answer shown at the end.
  async function run(action) {
    demo.pending += 1;
    demo.busy = true;
    try {
      show(await action());
    } catch (err) {
      const description = String((err && err.message) || err);
      show({ status: 0, data: { error: "network_error", error_description: description } });
    } finally {
      demo.pending -= 1;
      demo.busy = demo.pending > 0;
    }
  }

  const on = (id, event, handler) => document.getElementById(id).addEventListener(event, handler);
  on("login-form", "submit", (event) => {
    event.preventDefault();
    run(login);
  });
  on("whoami", "click", () => run(() => protectedCall("GET", "/whoami")));
  on("refresh", "click", () => run(refresh));
  on("logout", "click", () => run(logout));
  on("note-form", "submit", (event) => {
    event.preventDefault();
    run(() => protectedCall("POST", "/notes", { text: valueOf("note") }));
  });
  on("list-notes", "click", () => run(() => protectedCall("GET", "/notes")));
})();
