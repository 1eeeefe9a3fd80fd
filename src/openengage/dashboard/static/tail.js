// OpenEngage live events: polls the page's feed for events stored since the newest one shown, and puts
// them at the top of the role="log" list. Values are set as text (textContent), never as markup: they are
// whatever clients sent. Pauses with the Pause button and while the tab is hidden; stops when the session
// ends (the feed then redirects to the sign-in page).
"use strict";

(function () {
  const MAX_ROWS = 500;
  const HIDDEN_POLL_MS = 15000;

  function start() {
    const log = document.getElementById("tail");
    if (!log || !window.fetch) return;
    const status = document.getElementById("tail-status");
    const button = document.getElementById("tail-pause");
    const pollMs = Number(log.dataset.poll) || 2000;
    const seen = new Set(Array.from(log.children, (li) => li.dataset.id));
    let after = log.dataset.after || "0";
    let paused = false;
    let stopped = false;
    let timer = null;
    const LIVE = "Live: new events appear at the top (checked every " + pollMs / 1000 + " s).";

    function say(text) {
      // Only on a change of state: the log itself announces new events, the status must not chatter.
      if (status && status.textContent !== text) status.textContent = text;
    }

    function text(tag, className, value) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      node.textContent = value;
      return node;
    }

    function isDashboardLink(url) {
      return typeof url === "string" && url.startsWith("/dashboard/");
    }

    function row(e) {
      const li = document.createElement("li");
      li.className = "event fresh";
      li.dataset.id = e.id;
      li.append(text("time", "when", e.time), " ");
      const name = document.createElement("strong");
      name.className = "name";
      name.append(text("bdi", "", e.name));
      li.append(name, " ");
      const user = document.createElement("span");
      user.className = "user";
      const label = text("bdi", "value", e.user);
      if (isDashboardLink(e.profile)) {
        const a = document.createElement("a");
        a.href = e.profile;
        a.append(label);
        user.append(a);
      } else {
        user.append(label);
      }
      if (e.anonymous) user.append(" ", text("span", "tag", "anonymous"));
      li.append(user, " ");
      const data = document.createElement("code");
      data.className = "data";
      data.append(text("bdi", "", e.data));
      li.append(data, " ", text("span", "received", "received " + e.received));
      if (isDashboardLink(e.trace)) {
        const a = text("a", "trace", "Trace");
        a.href = e.trace;
        li.append(" ", a);
      }
      return li;
    }

    function add(events) {
      for (const e of events) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        log.insertBefore(row(e), log.firstChild);
        const empty = document.getElementById("tail-empty");
        if (empty) empty.remove();
      }
      while (log.children.length > MAX_ROWS) {
        seen.delete(log.lastElementChild.dataset.id);
        log.removeChild(log.lastElementChild);
      }
    }

    function schedule(ms) {
      clearTimeout(timer);
      if (!stopped && !paused) timer = setTimeout(poll, ms);
    }

    async function poll() {
      if (paused || stopped) return;
      if (document.hidden) {
        schedule(HIDDEN_POLL_MS);
        return;
      }
      const url = new URL(log.dataset.feed, window.location.href);
      url.searchParams.set("after", after);
      try {
        const r = await fetch(url, { credentials: "same-origin", redirect: "manual", headers: { Accept: "application/json" } });
        if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403 || r.status === 404) {
          stopped = true;
          say("Live updates stopped: your session ended or you lost access. Reload the page.");
          return;
        }
        if (r.ok) {
          const body = await r.json();
          add(body.events || []);
          if (typeof body.after === "string") after = body.after;
          say(LIVE);
        } else {
          say("The server answered " + r.status + "; trying again.");
        }
      } catch (err) {
        say("Cannot reach the server; trying again.");
      }
      schedule(pollMs);
    }

    if (button) {
      button.hidden = false;
      button.addEventListener("click", () => {
        paused = !paused;
        button.textContent = paused ? "Resume" : "Pause";
        button.setAttribute("aria-pressed", String(paused));
        say(paused ? "Paused: new events are not fetched." : LIVE);
        if (!paused) poll();
      });
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !paused && !stopped) poll();
    });
    say(LIVE);
    schedule(pollMs);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
