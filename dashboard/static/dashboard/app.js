/* Reelsmith dashboard: the little script there is, all of it progressive enhancement (every page works
   without it). A file input marked data-dropzone also takes a file dropped on its field. */
(function () {
  "use strict";
  function dropzone(input) {
    var zone = input.closest(".dropzone") || input.parentElement;
    var hint = zone.querySelector(".drop-hint");
    if (hint) { hint.hidden = false; }
    zone.classList.add("droppable");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
      var files = new DataTransfer();
      files.items.add(event.dataTransfer.files[0]);
      input.files = files.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
      if (hint) { hint.textContent = "Ready to upload: " + input.files[0].name; }
    });
  }
  function start() {
    document.querySelectorAll("input[type=file][data-dropzone]").forEach(dropzone);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
