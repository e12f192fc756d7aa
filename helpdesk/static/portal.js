// Progressive enhancement for the portal's file fields: drop files onto the field, and see the
// chosen files with their sizes and any problem (too many, too large) before sending. Without
// JavaScript the plain file input does the same job, and the server checks the limits anyway.
(function () {
  "use strict";

  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (match, key) {
      return key in values ? values[key] : match;
    });
  }

  function setUp(zone) {
    var input = zone.querySelector('input[type="file"]');
    if (!input) {
      return;
    }
    var maxFiles = Number(zone.dataset.maxFiles);
    var maxBytes = Number(zone.dataset.maxBytes);
    var units = (zone.dataset.units || "B KB MB").split(" ");
    var hint = document.createElement("p");
    hint.className = "drop-hint";
    hint.textContent = zone.dataset.dropHere;
    zone.appendChild(hint);
    var list = document.createElement("ul");
    list.className = "chosen";
    list.setAttribute("aria-live", "polite");
    zone.appendChild(list);

    function addLine(text, problem) {
      var item = document.createElement("li");
      item.textContent = text;
      if (problem) {
        item.className = "problem";
      }
      list.appendChild(item);
    }

    function size(bytes) {
      if (bytes < 1024) {
        return bytes + " " + units[0];
      }
      if (bytes < 1048576) {
        return (bytes / 1024).toFixed(1) + " " + units[1];
      }
      return (bytes / 1048576).toFixed(1) + " " + units[2];
    }

    function showChosen() {
      list.replaceChildren();
      var files = Array.prototype.slice.call(input.files);
      files.forEach(function (file) {
        if (file.size > maxBytes) {
          var mb = (file.size / 1048576).toFixed(1);
          addLine(fill(zone.dataset.tooLarge, { name: file.name, size: mb }), true);
        } else {
          addLine(file.name + " (" + size(file.size) + ")", false);
        }
      });
      if (files.length > maxFiles) {
        addLine(fill(zone.dataset.tooMany, { count: files.length }), true);
      }
    }

    input.addEventListener("change", showChosen);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.remove("dragging");
      });
    });
    zone.addEventListener("drop", function (event) {
      var dropped = event.dataTransfer && event.dataTransfer.files;
      if (!dropped || !dropped.length || typeof DataTransfer === "undefined") {
        return;
      }
      // Add to what was chosen before instead of replacing it.
      var merged = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (file) { merged.items.add(file); });
      Array.prototype.forEach.call(dropped, function (file) { merged.items.add(file); });
      input.files = merged.files;
      showChosen();
    });
  }

  document.querySelectorAll(".dropzone").forEach(setUp);
})();
