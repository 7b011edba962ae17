/*
 * The Eye's browser tracker. Add it to a page with a browser key:
 *
 *   <script src="https://eye.example.com/eye.js" data-key="eye_…" defer></script>
 *
 * It sends a pageview on load and on each history navigation, a "cta click"
 * for clicks on elements marked data-eye-click="label", a "submit" for forms
 * marked data-eye-form (field names only; the values of the fields named in
 * data-eye-values="a,b" too), and whatever the page sends with
 * eye.track(category, name, data). Events are batched and sent to the server
 * the script came from, with fetch (keepalive) or, when the page is hidden,
 * sendBeacon; each request stays under the browsers' 64 KiB keepalive budget.
 * The session id lives in sessionStorage: one per tab, renewed after 30
 * minutes without an event.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.eye && window.eye.track) {
    return;
  }
  var key = script.getAttribute("data-key") || "";
  var endpoint = new URL("/events/batch/", script.src).href + "?key=" + encodeURIComponent(key);
  var SESSION_KEY = "eye_session";
  var IDLE = 30 * 60 * 1000;
  var MAX_BODY = 60 * 1024; // under the 64 KiB keepalive budget
  var MAX_QUEUE = 1000;
  var queue = [];
  var timer = null;
  var failures = 0;
  var inflight = false; // one fetch at a time: keepalive requests share the 64 KiB budget

  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // session returns the tab's session id, a new one after 30 idle minutes.
  function session() {
    var now = Date.now();
    var s = null;
    try {
      s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (e) {
      s = null;
    }
    if (!s || !s.id || now - s.last > IDLE) {
      s = { id: uuid(), last: now };
    }
    s.last = now;
    try {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    } catch (e) {
      // storage refused (private mode): the id lives as long as the page
    }
    return s.id;
  }

  function where() {
    return { host: location.host, path: location.pathname };
  }

  function track(category, name, data) {
    if (typeof category !== "string" || typeof name !== "string" || !category || !name) {
      throw new TypeError("eye.track(category, name, data): category and name must be non-empty strings");
    }
    var d = {};
    var base = where();
    d.host = base.host;
    d.path = base.path;
    if (data && typeof data === "object") {
      for (var k in data) {
        if (Object.prototype.hasOwnProperty.call(data, k)) {
          d[k] = data[k];
        }
      }
    }
    if (queue.length >= MAX_QUEUE) {
      queue.shift(); // the oldest goes: the page must not grow without bound
    }
    queue.push({
      event_id: uuid(),
      session_id: session(),
      category: category,
      name: name,
      data: d,
      timestamp: new Date().toISOString()
    });
    schedule(1000);
  }

  function schedule(delay) {
    if (timer === null) {
      timer = setTimeout(function () { timer = null; flush(false); }, delay);
    }
  }

  // take removes from the queue the events of one request under MAX_BODY.
  function take() {
    var batch = [];
    var size = 2;
    while (queue.length > 0) {
      var n = JSON.stringify(queue[0]).length + 1;
      if (batch.length > 0 && size + n > MAX_BODY) {
        break;
      }
      batch.push(queue.shift());
      size += n;
    }
    return batch;
  }

  function body(batch) {
    var now = new Date().toISOString();
    return JSON.stringify(batch.map(function (e) {
      e.sent_at = now;
      return e;
    }));
  }

  // flush sends the queue: with sendBeacon when the page goes away, with
  // fetch (keepalive, one batch at a time) otherwise, retrying with backoff
  // what failed.
  function flush(leaving) {
    if (leaving && navigator.sendBeacon) {
      while (queue.length > 0) {
        var batch = take();
        var blob = new Blob([body(batch)], { type: "text/plain" });
        if (!navigator.sendBeacon(endpoint, blob)) {
          queue = batch.concat(queue); // over the budget: fetch takes it later
          break;
        }
      }
    }
    if (!inflight && queue.length > 0) {
      send(take());
    }
  }

  function send(batch) {
    inflight = true;
    fetch(endpoint, {
      method: "POST",
      body: body(batch),
      headers: { "Content-Type": "text/plain" },
      keepalive: true,
      credentials: "omit",
      mode: "cors"
    }).then(function (res) {
      inflight = false;
      if (res.status === 429 || res.status >= 500) {
        retry(batch);
      } else {
        failures = 0;
        if (queue.length > 0) {
          flush(false);
        }
      }
    }, function () {
      inflight = false;
      retry(batch);
    });
  }

  function retry(batch) {
    failures++;
    if (failures > 8) {
      return; // the server stays unreachable: give these up
    }
    queue = batch.concat(queue);
    schedule(Math.min(60000, 500 * Math.pow(2, failures)) * (0.5 + Math.random() / 2));
  }

  function pageview() {
    track("page interaction", "pageview", {});
  }

  function clicked(ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("[data-eye-click]") : null;
    if (el) {
      track("page interaction", "cta click", { element: el.getAttribute("data-eye-click") || el.textContent.trim().slice(0, 100) });
    }
  }

  function submitted(ev) {
    var form = ev.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-eye-form")) {
      return;
    }
    var allowed = (form.getAttribute("data-eye-values") || "").split(",").map(function (s) { return s.trim(); });
    var fields = [];
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "submit" || el.type === "button" || fields.indexOf(el.name) >= 0) {
        return;
      }
      fields.push(el.name);
      if (allowed.indexOf(el.name) >= 0 && el.type !== "password") {
        values[el.name] = el.value;
      }
    });
    var data = { form_name: form.getAttribute("data-eye-form") || form.getAttribute("name") || form.id || "", fields: fields, form: values };
    track("form interaction", "submit", data);
    flush(true); // the page may be leaving
  }

  // Single-page applications navigate with the history API.
  ["pushState", "replaceState"].forEach(function (m) {
    var original = history[m];
    history[m] = function () {
      var before = location.href;
      var result = original.apply(this, arguments);
      if (m === "pushState" && location.href !== before) {
        pageview();
      }
      return result;
    };
  });
  window.addEventListener("popstate", pageview);
  document.addEventListener("click", clicked, true);
  document.addEventListener("submit", submitted, true);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush(true);
    }
  });
  window.addEventListener("pagehide", function () { flush(true); });

  window.eye = { track: track, flush: function () { flush(false); }, session: session };
  pageview();
})();
