// OpenEngage dashboard: the little JavaScript pages use. Served as a static file (the Content-Security-Policy
// allows no inline script). Pages work without it; it only adds conveniences.
"use strict";

// Copy buttons: <button class="copy" data-copy="ID" hidden> copies the value of the element with that id.
// Hidden by default so that without JavaScript no dead button shows.
function setUpCopyButtons() {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.value ?? source.textContent);
        button.textContent = "Copied";
      } catch {
        source.select();
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

// Forms marked <form data-once> are sent once: a double-click would send a second request, whose answer
// the browser shows instead of the first one's (a generate-key form's second request is refused, and the
// new key from the first would never be seen). The server refuses a repeat anyway; this keeps the answer.
function setUpOnceForms() {
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpCopyButtons();
  setUpOnceForms();
});
