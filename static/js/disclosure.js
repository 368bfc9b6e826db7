// Disclosure buttons: <button data-disclosure aria-expanded aria-controls="id"> shows or hides
// that element. A link to an element inside a hidden one (/settings/#channel-email, where a
// save or a test send comes back) unfolds it; so does a form that came back with errors.
(function () {
  "use strict";
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-disclosure]"));
  if (!buttons.length) return;

  function set(button, open) {
    var panel = document.getElementById(button.getAttribute("aria-controls") || "");
    if (!panel) return;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    panel.hidden = !open;
  }

  function controller(element) {
    for (var i = 0; i < buttons.length; i++) {
      var panel = document.getElementById(buttons[i].getAttribute("aria-controls") || "");
      if (panel && (panel === element || panel.contains(element))) return buttons[i];
    }
    return null;
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      set(button, button.getAttribute("aria-expanded") !== "true");
    });
  });

  function reveal(element, focus) {
    var button = controller(element);
    if (!button) return;
    set(button, true);
    var row = button.closest("tr") || button;
    row.scrollIntoView({ block: "start" });
    if (focus) focus.focus({ preventScroll: true });
  }

  function fromHash() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target) reveal(target, null);
  }
  window.addEventListener("hashchange", fromHash);

  var invalid = document.querySelector("[aria-invalid=true]");
  if (invalid && controller(invalid)) {
    reveal(invalid, invalid);
  } else {
    fromHash();
  }
})();
