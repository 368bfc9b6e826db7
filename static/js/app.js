// Small page behaviours for the server-rendered pages (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The project switcher (and any select marked data-autosubmit) submits when changed.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) select.form.requestSubmit ? select.form.requestSubmit() : select.form.submit();
    });
  });

  // Copy buttons: <button data-copy-target="id"> copies that field's value.
  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("aria-describedby") || "");
    if (status) status.textContent = text;
  }
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy-target"));
      if (!field) return;
      var value = field.value !== undefined ? field.value : field.textContent;
      var done = function () { announce(button, "Copied"); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(done, function () {
          field.select(); document.execCommand("copy"); done();
        });
      } else {
        field.select(); document.execCommand("copy"); done();
      }
    });
  });

  // Forms that need a confirmation: <form data-confirm="message">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  // Over the canvas, confirmations float; they go away by themselves (errors stay).
  if (document.body.classList.contains("canvas-body") || document.body.classList.contains("full-width")) {
    window.setTimeout(function () {
      document.querySelectorAll(".message-success, .message-info").forEach(function (m) { m.remove(); });
    }, 6000);
  }

  // The import form submits as soon as a file is chosen.
  document.querySelectorAll("input[type=file][data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.files && input.files.length && input.form) input.form.submit();
    });
  });
})();
