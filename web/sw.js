// The download service worker (served as /dl/sw.js, scope /dl/): the
// StreamSaver pattern for end-to-end shares in browsers without the File
// System Access API. The share page decrypts record by record and hands
// the plaintext here through a MessageChannel; this worker answers the
// page's navigation to /dl/TOKEN with a ReadableStream of it, as an
// attachment (the page navigates a hidden frame there), so the browser
// writes it to its downloads folder while it is decrypted and nothing
// holds the whole file.
//
// Back-pressure: the stream asks the page for one piece at a time (a
// "pull" message when the browser has read what it had), so at most one
// piece waits here and one in the channel, whatever the file's size.
//
// What it sees: the plaintext of downloads the page streams through it,
// their names and sizes; never a key (the page decrypts), and no request
// but navigations under /dl/: its scope controls no page. A token is 128
// random bits drawn by the page, used once, and kept only until its
// navigation arrives (at most MAX_WAITING at a time).
"use strict";

const MAX_WAITING = 16;
/** token -> { stream, name, size, port }, oldest first. */
const waiting = new Map();

// A new copy (a new sockit) takes over at once: it controls no page, so
// nothing depends on the old one.
self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("message", (ev) => {
  const m = ev.data;
  const port = ev.ports && ev.ports[0];
  if (!m || m.type !== "sockit-download" || !port) return; // a keep-alive, or not ours
  if (typeof m.token !== "string" || !/^[0-9a-f]{32}$/.test(m.token) || waiting.has(m.token)) {
    port.postMessage({ type: "refused" });
    return;
  }
  while (waiting.size >= MAX_WAITING) {
    const [old, d] = waiting.entries().next().value;
    waiting.delete(old);
    d.port.postMessage({ type: "refused" });
    d.port.close();
  }
  waiting.set(m.token, { stream: channelStream(port), name: String(m.name || "download"), size: m.size, port });
});

/** A stream fed by the page through `port`, one piece per pull. */
function channelStream(port) {
  let controller;
  let wake = null; // ends the pending pull
  let ended = false;
  const settle = () => { const w = wake; wake = null; if (w) w(); };
  port.onmessage = (e) => {
    const d = e.data || {};
    if (ended) return;
    if (d.type === "chunk" && d.bytes instanceof Uint8Array && wake) {
      controller.enqueue(d.bytes);
      settle();
    } else if (d.type === "end") {
      ended = true;
      controller.close();
      settle();
      port.close();
    } else {
      // "abort" (the page found the download bad), or a piece nobody
      // asked for: the browser's download fails rather than completes.
      ended = true;
      controller.error(new Error(d.type === "abort" ? "the page abandoned this download" : "unexpected message"));
      settle();
      port.close();
    }
  };
  return new ReadableStream({
    start(c) { controller = c; },
    pull() {
      return new Promise((resolve) => {
        wake = resolve;
        port.postMessage({ type: "pull" });
      });
    },
    cancel() {
      // The user cancelled the download in the browser.
      ended = true;
      port.postMessage({ type: "cancel" });
      port.close();
    },
  }, { highWaterMark: 1 });
}

/** `Content-Disposition` for `name`: an ASCII stand-in and the UTF-8 name
 * (RFC 6266, RFC 8187). */
function disposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_") || "download";
  const utf8 = encodeURIComponent(name).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith("/dl/")) return;
  const token = url.pathname.slice("/dl/".length);
  const d = ev.request.mode === "navigate" ? waiting.get(token) : undefined;
  if (!d) {
    ev.respondWith(new Response("no such download: it was not started in this browser, or it has begun already\n", {
      status: 404,
      headers: { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store" },
    }));
    return;
  }
  waiting.delete(token);
  const headers = {
    "Content-Type": "application/octet-stream",
    "Content-Disposition": disposition(d.name),
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  };
  if (Number.isSafeInteger(d.size) && d.size >= 0) headers["Content-Length"] = String(d.size);
  d.port.postMessage({ type: "started" });
  ev.respondWith(new Response(d.stream, { headers }));
});
