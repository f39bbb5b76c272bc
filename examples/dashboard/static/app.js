// iamkit dashboard: the little JavaScript it has. Everything works without it; with it,
// secrets copy with one click and a form's error summary takes the focus.
(function () {
  "use strict";

  function announce(button, text) {
    var scope = button.closest("section, .card, .narrow, main") || document.body;
    var status = scope.querySelector(".copied");
    if (status) { status.textContent = text; }
  }

  function copy(button, text) {
    var done = function () { announce(button, "Copied."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { announce(button, "Select the text and copy it."); });
      return;
    }
    announce(button, "Select the text and copy it.");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button) { return; }
    var text = button.getAttribute("data-copy-text");
    if (text === null) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) { return; }
      field.focus();
      field.select();
      text = field.value;
    }
    copy(button, text);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  });
})();
