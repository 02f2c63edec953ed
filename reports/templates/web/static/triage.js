// Enhancements only: every page works without this file (and with JavaScript off).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // an error summary takes the focus, so a screen reader announces the problem at once
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
    // the error summary's link moves to the field and the focus into it
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (target) {
          event.preventDefault();
          target.focus();
          target.scrollIntoView({ block: "center" });
        }
      });
    });
    // a second tap on a slow network does not send the same answer twice
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var button = form.querySelector("[data-prevent-double-click]");
        if (button) {
          if (button.getAttribute("data-clicked")) { event.preventDefault(); }
          button.setAttribute("data-clicked", "true");
          window.setTimeout(function () { button.removeAttribute("data-clicked"); }, 1500);
        }
      });
    });
  });
})();
