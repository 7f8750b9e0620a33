/**
 * The pages' only assets, served by the Worker from its own origin (the CSP allows nothing else): one stylesheet and
 * one script. They are small enough to live here as text, which spares the build a loader and the Worker a fetch.
 */

export const STYLESHEET_PATH = "/connect/assets/page.css";
export const SCRIPT_PATH = "/connect/assets/opener.js";

/**
 * Light and dark from the system setting (`prefers-color-scheme`), a single fluid column that reads on a phone, and
 * colour pairs with a contrast of at least 4.5:1 in both schemes (WCAG 2.2 §1.4.3).
 */
export const STYLESHEET = `:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --fg: #1f2328;
  --muted: #57606a;
  --card: #f6f8fa;
  --border: #8c959f;
  --accent: #0b57d0;
  --on-accent: #ffffff;
  --ok: #116329;
  --warn: #7d4e00;
  --bad: #a40e26;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117;
    --fg: #e6edf3;
    --muted: #9da7b3;
    --card: #161b22;
    --border: #6e7681;
    --accent: #4493f8;
    --on-accent: #0d1117;
    --ok: #3fb950;
    --warn: #d29922;
    --bad: #ff7b72;
  }
}
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 40rem; margin: 0 auto; padding: 2rem 1rem 3rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0 0 0.5rem; }
h2 { font-size: 1.125rem; margin: 0; }
p { margin: 0 0 1rem; }
.for { font-size: 1.125rem; }
.muted { color: var(--muted); }
.offers, .accounts { list-style: none; margin: 0; padding: 0; }
.offers { display: grid; gap: 0.75rem; margin: 1.5rem 0; }
.offer { background: var(--card); border: 1px solid var(--border); border-radius: 0.75rem; padding: 1rem; }
.offer-head { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: baseline; justify-content: space-between; }
.offer-description { color: var(--muted); margin: 0.25rem 0 0; }
.accounts { display: grid; gap: 0.5rem; margin: 0.75rem 0; }
.account { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; justify-content: space-between; }
.account-name { font-weight: 600; overflow-wrap: anywhere; }
.state { font-size: 0.875rem; border: 1px solid currentColor; border-radius: 999px; padding: 0 0.5rem; white-space: nowrap; }
.state-connected { color: var(--ok); }
.state-needs_reconnection, .state-needs_permissions { color: var(--warn); }
.state-not_connected, .state-unavailable { color: var(--muted); }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.75rem; }
.account .actions { margin-top: 0; }
form { margin: 0; }
button, .button {
  display: inline-block; min-height: 2.75rem; padding: 0.5rem 1rem; border: 2px solid var(--accent); border-radius: 0.5rem;
  background: var(--accent); color: var(--on-accent); font: inherit; font-weight: 600; text-decoration: none; cursor: pointer;
}
button.secondary { background: transparent; color: var(--accent); }
:focus-visible { outline: 3px solid var(--fg); outline-offset: 2px; }
.result { background: var(--card); border: 1px solid var(--border); border-left: 0.375rem solid var(--ok); border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 1rem 0; }
.result-problem { border-left-color: var(--bad); }
.result p { margin: 0; }
.result form { margin-top: 0.75rem; }
.done { margin-top: 2rem; }
`;

/**
 * Runs only where the page was opened as a popup by the session's `opener_origin`: it tells the opener what happened,
 * addressed to exactly that origin (a window at any other origin receives nothing), and turns "Done" into closing the
 * popup. Without JavaScript the page works the same, minus the messages.
 */
export const SCRIPT = `"use strict";
(function () {
  var main = document.querySelector("main[data-opener-origin]");
  if (!main || !window.opener) return;
  var origin = main.getAttribute("data-opener-origin");
  function tell(message) {
    if (window.opener && !window.opener.closed) window.opener.postMessage(message, origin);
  }
  var message = main.getAttribute("data-opener-message");
  if (message) tell(JSON.parse(message));
  var done = document.querySelector("[data-done]");
  if (done) {
    done.addEventListener("click", function (event) {
      event.preventDefault();
      tell({ type: "connect.closed" });
      window.close();
    });
  }
})();
`;
