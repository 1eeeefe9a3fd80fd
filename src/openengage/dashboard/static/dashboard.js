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

document.addEventListener("DOMContentLoaded", setUpCopyButtons);
