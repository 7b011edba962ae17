// The admin UI's scripts: small enhancements of pages that work without
// them. No inline script: the pages' content security policy forbids it.
"use strict";

(function () {
  // Forms that ask before they act.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) {
        e.preventDefault();
      }
    });
  }

  // Copy buttons: data-copy names the element whose text to copy.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", () => {
      const id = button.dataset.copy;
      const source = document.getElementById(id);
      const said = document.querySelector('[data-copied="' + id + '"]');
      const say = (text) => { if (said) said.textContent = text; };
      const select = () => {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        say("Selected: press Ctrl+C (⌘C) to copy.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent).then(() => say("Copied."), select);
      } else {
        select();
      }
    });
  }

  const count = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
  const bytes = (n) => {
    if (n < 1024) return n + " B";
    let unit = -1;
    do { n /= 1024; unit++; } while (n >= 1024 && unit < 5);
    return n.toFixed(1) + " " + "KMGTPE"[unit] + "iB";
  };
  const duration = (s) => {
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 10) return s.toFixed(1) + " s";
    if (s < 60) return Math.floor(s) + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  };
  const setField = (root, name, text) => {
    const el = root.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = text;
  };
  // getJSON reads a document of the API, authorized by the session
  // cookie; it says "ended" when the session has (the page stops asking).
  const getJSON = async (url) => {
    const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (res.status === 401) return "ended";
    return res.ok ? res.json() : null;
  };

  // The dashboard's pipeline figures, refreshed from GET /status.
  const pipeline = document.querySelector("[data-status-url]");
  if (pipeline) {
    let timer = 0;
    const refresh = async () => {
      try {
        const st = await getJSON(pipeline.dataset.statusUrl);
        if (st === "ended") window.clearInterval(timer);
        if (!st || st === "ended") return;
        setField(pipeline, "health", st.status);
        const box = pipeline.querySelector("[data-health]");
        box.className = box.className.replace(/health-\w+/, "health-" + st.status);
        const reasons = pipeline.querySelector('[data-field="reasons"]');
        reasons.replaceChildren(...(st.reasons.length ? st.reasons : ["Every part answers."]).map((r) => {
          const li = document.createElement("li");
          li.textContent = r;
          if (!st.reasons.length) li.className = "muted";
          return li;
        }));
        if (st.queue) {
          setField(pipeline, "messages", count(st.queue.messages));
          setField(pipeline, "bytes", bytes(st.queue.bytes));
          setField(pipeline, "lag", st.queue.oldest_age_seconds == null ? "none" : duration(st.queue.oldest_age_seconds));
          setField(pipeline, "in_progress", st.queue.in_progress);
          setField(pipeline, "waiting", st.queue.workers_waiting);
        }
      } catch (e) {
        // Offline, or leaving the page: the next round tries again.
      }
    };
    timer = window.setInterval(refresh, 5000);
  }

  // The live tail: GET /events/stream, authorized by the session cookie.
  const live = document.getElementById("live");
  if (live && window.EventSource) {
    const state = document.getElementById("live-state");
    const max = Number(live.dataset.max) || 12;
    let apps = {};
    try { apps = JSON.parse(live.dataset.apps || "{}"); } catch (err) { apps = {}; }
    const source = new EventSource(live.dataset.stream);
    source.addEventListener("open", () => { state.textContent = "connected"; });
    source.addEventListener("error", () => {
      state.textContent = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting…";
    });
    const add = (kind, e) => {
      let n;
      try { n = JSON.parse(e.data); } catch (err) { return; }
      const empty = live.querySelector(".empty");
      if (empty) empty.remove();
      const li = document.createElement("li");
      li.className = kind;
      const link = document.createElement("a");
      link.href = (kind === "stored" ? "/admin/events/" : "/admin/errors/") + encodeURIComponent(n.id);
      link.textContent = (n.category || "?") + " / " + (n.name || "?");
      const meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = " " + (apps[n.application_id] || n.application_id) + " · " + (n.received_at || "").slice(11, 19) +
        (kind === "rejected" ? " · " + (n.codes || []).join(", ") : "");
      li.append(link, meta);
      live.prepend(li);
      while (live.children.length > max) live.lastElementChild.remove();
    };
    source.addEventListener("stored", (e) => add("stored", e));
    source.addEventListener("rejected", (e) => add("rejected", e));
    window.addEventListener("pagehide", () => source.close());
  }

  // A replay job's page follows the job through GET /jobs/{id}/.
  const job = document.querySelector("[data-job-url]");
  if (job && job.querySelector('[data-field="status"]').textContent === "running") {
    const poll = async () => {
      try {
        const j = await getJSON(job.dataset.jobUrl);
        if (j === "ended") return;
        if (j) {
          const status = job.querySelector('[data-field="status"]');
          status.textContent = j.status;
          status.className = "badge job-" + j.status;
          setField(job, "replayed", count(j.replayed));
          setField(job, "still_invalid", count(j.still_invalid));
          setField(job, "error", j.error || "—");
          if (j.status !== "running") {
            setField(job, "note", "The job has ended.");
            return;
          }
        }
      } catch (e) {
        // Try again below.
      }
      window.setTimeout(poll, 1000);
    };
    window.setTimeout(poll, 300);
  }

  // The schema editor says at once whether its text is JSON.
  for (const area of document.querySelectorAll("textarea[data-json]")) {
    const out = document.getElementById(area.dataset.json);
    const check = () => {
      try {
        JSON.parse(area.value);
        out.textContent = "Valid JSON. Check it to compile it and try it on recent events.";
        out.className = "small ok-text";
      } catch (e) {
        out.textContent = "Not valid JSON: " + e.message;
        out.className = "small error-text";
      }
    };
    area.addEventListener("input", check);
    check();
  }
})();
