/* Reelsmith dashboard: the little script there is, all of it progressive enhancement (every page works
   without it). A file input marked data-dropzone also takes a file dropped on its field. A brand upload form
   (data-likeness) shows its "shows a person" box only for video, and its consent only where the kind needs one. */
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
  function likeness(form) {
    var kind = form.querySelector("select[name=kind]");
    var shows = form.querySelector("input[name=shows_person]");
    var consent = form.querySelector("select[name=consent]");
    if (!kind || !shows || !consent) { return; }
    function toggle(control, on) {
      var field = control.closest(".field");
      field.hidden = !on;
      control.disabled = !on; /* a hidden control is not sent */
    }
    function update() {
      var video = kind.value === "video";
      toggle(shows, video);
      toggle(consent, kind.value === "portrait" || kind.value === "voice" || (video && shows.checked));
    }
    kind.addEventListener("change", update);
    shows.addEventListener("change", update);
    update();
  }
  function start() {
    document.querySelectorAll("input[type=file][data-dropzone]").forEach(dropzone);
    document.querySelectorAll("form[data-likeness]").forEach(likeness);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
